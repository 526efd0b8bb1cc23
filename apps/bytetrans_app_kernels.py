"""The kernel manager `make explore` gives Voilà: at most `max_kernels` kernels at once.

Voilà starts a kernel for every page it serves (each reload, each tab). Idle kernels of closed
pages are culled by the settings `python -m bytetrans_lib.app` passes (MappingKernelManager's
cull_idle_timeout, jupyter_server's documented culling); this class bounds how many can be
alive before that, so that reloading the page in a loop cannot exhaust the machine's memory:
a page asked for beyond the bound gets HTTP 503 with a sentence that says why.
"""

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer


class BoundedKernelManager(AsyncMappingKernelManager):
    max_kernels = Integer(8, config=True, help="the most kernels (explorer pages) alive at once")

    async def start_kernel(self, *args, **kwargs):
        if len(self.list_kernel_ids()) >= self.max_kernels:
            why = (
                f"{self.max_kernels} explorer pages are open, each with its own kernel: close one "
                "(its kernel stops within two minutes) and reload"
            )
            raise web.HTTPError(503, why, reason=why)  # the reason is what the error page shows
        return await super().start_kernel(*args, **kwargs)
