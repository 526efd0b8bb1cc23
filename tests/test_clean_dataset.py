"""Cleaning Tatoeba / manythings.org pairs (notebook 07, bytetrans_lib.clean_dataset).

The dirty inputs are written by the tests themselves, byte by byte, into tmp_path. The real
5,000 pairs at <repo>/../shared/data/tatoeba/fra-eng.tsv are used when that file exists.
"""

import hashlib
import json
import os
import runpy
import stat
import subprocess
import sys
import types
import unicodedata
import zipfile

import numpy as np
import pytest
from conftest import ROOT

from bytetrans_lib import (
    DROP_REASONS,
    FRENCH_SPACES,
    CleaningReport,
    clean_dataset,
    clean_pairs,
    language_file,
    normalize_text,
    raw_lines,
    write_tsv,
)

REAL = ROOT.parent / "shared" / "data" / "tatoeba" / "fra-eng.tsv"
REAL_SHA256 = "d952b56a181da5270b7bb4ded3f3bbe61e67a9b1de0e0fbc1d46438c71fb55a7"  # from its SOURCE.md
RECORDED_5K = ROOT / "data" / "tatoeba-5k-cleaning.json"  # its counts, as notebook 07 prints them
ATTR = "CC-BY 2.0 (France) Attribution: example #1 (ann) & #2 (bob)"  # made up, in the real format


def clean(tmp_path, data: bytes, name="pairs.tsv", **kwargs):
    """Write `data` to a file, clean it, and check the report's arithmetic (every fixture does)."""
    (tmp_path / name).write_bytes(data)
    here = os.getcwd()
    os.chdir(tmp_path)  # a relative name, as a learner types it: the report names the file so
    try:
        pairs, report = clean_pairs(name, **kwargs)
    finally:
        os.chdir(here)
    assert report.read == report.kept + sum(report.dropped.values())
    assert report.kept == len(pairs)
    assert set(report.dropped) == set(DROP_REASONS)
    assert report.per_file == {
        name: {"read": report.read, "kept": report.kept, "dropped": sum(report.dropped.values())}
    }
    return pairs, report


def dropped(report):
    """Only the reasons that fired."""
    return {reason: n for reason, n in report.dropped.items() if n}


# --- normalisation -------------------------------------------------------------------------


def test_every_field_is_normalised_as_translate_normalises_typed_text(tmp_path):
    line = f"I don’t  know.\tJe ne sais pas\u202f!\t{ATTR}\nDon't.\t« Non »\u2026\t{ATTR}\n"
    pairs, _ = clean(tmp_path, line.encode())
    assert pairs == [("I don't know.", "Je ne sais pas !", ATTR), ("Don't.", '"Non"...', ATTR)]
    assert all(p == tuple(normalize_text(f) for f in p) for p in pairs)


def test_pairs_that_differ_only_by_typography_are_duplicates_and_counted(tmp_path):
    data = f"I saw it.\tJe l'ai vu.\t{ATTR}\nI saw it.\tJe l’ai vu.\t{ATTR}\n".encode()
    pairs, report = clean(tmp_path, data)
    assert pairs == [("I saw it.", "Je l'ai vu.", ATTR)]
    assert dropped(report) == {"duplicate": 1} and report.first_drop["duplicate"] == "pairs.tsv:2"


def test_raw_lines_removes_bom_and_crlf_and_keeps_a_last_line_without_newline():
    assert raw_lines(b"\xef\xbb\xbfa\tb\r\nc\td") == [b"a\tb", b"c\td"]
    assert raw_lines(b"a\tb\n") == [b"a\tb"]
    assert raw_lines(b"") == []
    assert raw_lines("a\u2028b\n".encode()) == ["a\u2028b".encode()]  # split at \n only


# --- what is kept, and how -------------------------------------------------------------------


def test_three_column_attribution_is_kept_and_two_column_lines_give_pairs(tmp_path):
    pairs, report = clean(tmp_path, f"Hi.\tSalut.\t{ATTR}\nYes.\tOui.\n".encode())
    assert pairs == [("Hi.", "Salut.", ATTR), ("Yes.", "Oui.")]
    assert report.kept == 2 and not dropped(report)


def test_an_empty_attribution_gives_a_two_field_pair(tmp_path):
    pairs, _ = clean(tmp_path, b"Hi.\tSalut.\t \n")
    assert pairs == [("Hi.", "Salut.")]


def test_nfd_input_is_normalised_to_nfc(tmp_path):
    nfd = unicodedata.normalize("NFD", "Le caf\u00e9 est pr\u00eat.")
    assert nfd != unicodedata.normalize("NFC", nfd)
    pairs, _ = clean(tmp_path, f"The coffee is ready.\t{nfd}\n".encode())
    assert pairs[0][1] == "Le caf\u00e9 est pr\u00eat." and unicodedata.is_normalized("NFC", pairs[0][1])


def test_surrounding_and_repeated_white_space_is_normalised(tmp_path):
    pairs, _ = clean(tmp_path, b"  I  like   tea. \t J'aime le th\xc3\xa9.  \n")
    assert pairs == [("I like tea.", "J'aime le th\u00e9.")]


# --- every reason for dropping a line ----------------------------------------------------------


@pytest.mark.parametrize("line", [b"Only one column", b"One\tTwo\tThree\tFour", b"a\tb\tc\td\te"])
def test_lines_with_1_or_4_or_more_columns_are_dropped(tmp_path, line):
    pairs, report = clean(tmp_path, b"Hi.\tSalut.\n" + line + b"\nYes.\tOui.\n")
    assert [p[0] for p in pairs] == ["Hi.", "Yes."]
    assert dropped(report) == {"columns": 1} and report.first_drop["columns"] == "pairs.tsv:2"


def test_a_third_column_that_is_not_an_attribution_is_a_stray_tab_and_the_line_is_dropped(tmp_path):
    data = (
        f"Hi.\tSalut.\t{ATTR}\n"
        "Look!\tRegarde\t!\n"  # a tab typed where French puts its space before "!"
        "Yes.\tOui.\n"
        "Come.\tViens.\tcc-by but lower case\n"
    )
    pairs, report = clean(tmp_path, data.encode())
    assert pairs == [("Hi.", "Salut.", ATTR), ("Yes.", "Oui.")]
    assert dropped(report) == {"attribution": 2} and report.first_drop["attribution"] == "pairs.tsv:2"
    assert "third column not an attribution" in str(report)
    reasons = list(DROP_REASONS)  # checked right after the column count, before the sides
    assert reasons.index("attribution") == reasons.index("columns") + 1


def test_empty_sides_are_dropped(tmp_path):
    data = b"Hi.\t\n\tSalut.\nHi.\t \xe2\x80\xaf \t" + ATTR.encode() + b"\nYes.\tOui.\n"
    pairs, report = clean(tmp_path, data)
    assert pairs == [("Yes.", "Oui.")] and dropped(report) == {"empty": 3}


def test_blank_lines_are_counted_not_lost(tmp_path):
    pairs, report = clean(tmp_path, b"\nHi.\tSalut.\n   \n\r\n")
    assert pairs == [("Hi.", "Salut.")] and report.read == 4 and dropped(report) == {"blank": 3}


def test_a_line_with_invalid_utf8_is_dropped_and_the_others_are_kept(tmp_path):
    data = (
        b"Hi.\tSalut.\n"
        b"Who are you?\tQui \xeates-vous ?\n"  # Latin-1 byte
        b"Bad start\x80.\tOui.\n"  # a lone continuation byte
        b"Yes.\tOui.\n"
    )
    pairs, report = clean(tmp_path, data)
    assert pairs == [("Hi.", "Salut."), ("Yes.", "Oui.")]
    assert dropped(report) == {"utf8": 2} and report.first_drop["utf8"] == "pairs.tsv:2"


def test_pairs_longer_than_max_len_bytes_on_either_side_are_dropped(tmp_path):
    data = (
        "a" * 10
        + "\tb\n"  # exactly max_len: kept
        + "a" * 11
        + "\tb\n"  # English one byte over
        + "a\t"
        + "\u00e9" * 5
        + "\n"  # 5 characters but 10 bytes: kept
        + "a\t"
        + "\u00e9" * 5
        + "x\n"  # 11 bytes
        + "c\t"
        + "b\u202f" * 3
        + "bbbb\n"  # 13 bytes before normalising, 10 after: kept
    ).encode()
    pairs, report = clean(tmp_path, data, max_len=10)
    assert [len(p[0].encode()) for p in pairs] == [10, 1, 1]
    assert dropped(report) == {"too_long": 2}
    assert "longer than 10 bytes" in str(report)


def test_exact_duplicates_are_dropped_and_the_first_is_kept(tmp_path):
    data = (
        f"Hi.\tSalut.\t{ATTR}\nHi.\tSalut.\tCC-BY 2.0 (France) other attribution\nHi.\tBonjour.\nHi.\tSalut.\n"
    ).encode()  # same English, other French: not a duplicate
    pairs, report = clean(tmp_path, data)
    assert pairs == [("Hi.", "Salut.", ATTR), ("Hi.", "Bonjour.")]
    assert dropped(report) == {"duplicate": 2}


def test_pairs_differing_only_by_french_spacing_are_duplicates(tmp_path):
    data = "Go!\tVas-y\u202f!\nGo!\tVas-y !\nGo!\tVas-y\u00a0!\nGo!\tVas-y\u2009!\nGo!\tVas-y  !\n".encode()
    pairs, report = clean(tmp_path, data)
    assert pairs == [("Go!", "Vas-y !")] and dropped(report) == {"duplicate": 4}


def test_nfd_and_nfc_spellings_are_duplicates(tmp_path):
    data = "Summer.\t\u00c9t\u00e9.\n".encode() + unicodedata.normalize("NFD", "Summer.\t\u00c9t\u00e9.\n").encode()
    pairs, report = clean(tmp_path, data)
    assert pairs == [("Summer.", "\u00c9t\u00e9.")] and dropped(report) == {"duplicate": 1}


# --- how the file was saved ----------------------------------------------------------------


def test_crlf_line_endings_leave_no_carriage_return(tmp_path):
    pairs, report = clean(tmp_path, f"Hi.\tSalut.\t{ATTR}\r\nYes.\tOui.\r\n".encode())
    assert pairs == [("Hi.", "Salut.", ATTR), ("Yes.", "Oui.")] and not dropped(report)


def test_a_bom_is_not_part_of_the_first_sentence(tmp_path):
    pairs, report = clean(tmp_path, b"\xef\xbb\xbfHi.\tSalut.\n")
    assert pairs == [("Hi.", "Salut.")] and not dropped(report)


@pytest.mark.parametrize(
    "encoding, looks_like",
    [
        ("utf-16", "UTF-16"),
        ("utf-16-le", "UTF-16"),
        ("utf-16-be", "UTF-16"),  # with a BOM, then without
        ("utf-32", "UTF-32"),
        ("utf-32-le", "UTF-32"),
        ("utf-32-be", "UTF-32"),
    ],
)
def test_a_utf16_or_utf32_file_is_refused_naming_the_file_and_its_encoding(tmp_path, encoding, looks_like):
    path = tmp_path / "fra.txt"
    path.write_bytes(f"Hi.\tSalut.\t{ATTR}\nYes.\tOui.\t{ATTR}\n".encode(encoding))
    with pytest.raises(ValueError, match=rf"fra\.txt.* looks like {looks_like}.*save it as UTF-8"):
        clean_pairs(path)
    with pytest.raises(ValueError, match=rf"<bytes>.* looks like {looks_like}"):
        clean_pairs(path.read_bytes())


def test_a_utf16_file_among_several_inputs_refuses_them_all(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"Hi.\tSalut.\n")
    (tmp_path / "b.txt").write_bytes("Yes.\tOui.\n".encode("utf-16"))
    with pytest.raises(ValueError, match=r"b\.txt.* looks like UTF-16"):
        clean_pairs([tmp_path / "a.txt", tmp_path / "b.txt"])


def test_a_missing_final_newline_loses_nothing(tmp_path):
    pairs, report = clean(tmp_path, f"Hi.\tSalut.\t{ATTR}\nYes.\tOui.\t{ATTR}".encode())
    assert [p[:2] for p in pairs] == [("Hi.", "Salut."), ("Yes.", "Oui.")] and not dropped(report)


@pytest.mark.parametrize(
    "cut",
    [
        "Yes.\tOu",  # inside the French: 2 columns where the others have 3
        "Yes.",  # inside the English: 1 column
        "Yes.\tOui.\t",  # just after the second tab: 3 columns, empty attribution: nothing lost
    ],
)
def test_a_truncated_last_line_is_reported_and_the_file_still_reads(tmp_path, cut):
    data = f"Hi.\tSalut.\t{ATTR}\nNo.\tNon.\t{ATTR}\n{cut}".encode()
    pairs, report = clean(tmp_path, data)
    assert [p[0] for p in pairs[:2]] == ["Hi.", "No."] and report.read == 3
    if cut.count("\t") < 2:
        assert dropped(report) == {"truncated": 1} and report.first_drop["truncated"] == "pairs.tsv:3"
    else:
        assert pairs[2] == ("Yes.", "Oui.") and not dropped(report)


def test_a_two_column_file_cut_inside_its_last_french_is_dropped_by_where_it_stops(tmp_path):
    """Cut after the tab, the last line keeps its 2 columns: it stops mid-word where the others
    stop at punctuation. Files without that habit, short files, and whole last lines keep it."""
    body = "".join(f"Sentence {i}.\tPhrase {i}.\n" for i in range(25))
    pairs, report = clean(tmp_path, (body + "Where is my key?\tOù est ma").encode())
    assert len(pairs) == 25 and dropped(report) == {"truncated": 1}
    assert report.first_drop["truncated"] == "pairs.tsv:26"
    whole = body + "Where is my key?\tOù est ma clé ?"  # the same line, complete
    assert not dropped(clean(tmp_path, whole.encode())[1])
    plain = body.replace(".\n", "\n") + "Go\tVas-y"  # a file whose lines stop on letters: no sign
    assert not dropped(clean(tmp_path, plain.encode())[1])
    short = "".join(f"Sentence {i}.\tPhrase {i}.\n" for i in range(19)) + "Where is my key?\tOù est ma"
    assert not dropped(clean(tmp_path, short.encode())[1])  # 19 other lines: too few to judge


def test_the_real_76k_file_has_its_cut_last_line_dropped():
    real = ROOT.parent / "shared" / "data" / "tatoeba" / "fra-eng-76k.txt"
    if not real.is_file():
        pytest.skip(f"{real} not found (it sits next to the repository, not in it)")
    pairs, report = clean_pairs(real)
    assert report.read == 76038 and report.dropped["truncated"] == 1
    assert report.first_drop["truncated"] == f"{real}:76038"
    assert report.kept == len(pairs) > 75000


def test_a_last_line_cut_inside_a_multibyte_character_is_dropped(tmp_path):
    data = f"Hi.\tSalut.\t{ATTR}\nTea.\tTh\u00e9.\t{ATTR}".encode()[: -len(ATTR) - 3]  # ends b"Th\xc3"
    assert data.endswith(b"Th\xc3")
    pairs, report = clean(tmp_path, data)
    assert pairs == [("Hi.", "Salut.", ATTR)] and dropped(report) == {"truncated": 1}


def test_a_two_column_line_inside_a_three_column_file_is_kept(tmp_path):
    pairs, report = clean(tmp_path, f"Hi.\tSalut.\t{ATTR}\nYes.\tOui.\nNo.\tNon.\t{ATTR}\n".encode())
    assert pairs[1] == ("Yes.", "Oui.") and not dropped(report)


def test_an_empty_file_reads_zero_lines(tmp_path):
    pairs, report = clean(tmp_path, b"")
    assert pairs == [] and report.read == 0


# --- several files, bytes, errors -------------------------------------------------------------


FRA = f"Hi.\tSalut.\t{ATTR}\nYes.\tOui.\t{ATTR}\n".encode()
DEU = f"Hi.\tHallo.\t{ATTR}\nNo.\tNein.\t{ATTR}\n".encode()
ABOUT = b"** Info **\nThese are sentence pairs from the Tatoeba Project (made up for this test).\n"


def manythings_folder(folder, **files):
    """A folder of the original project's shape: fra.txt, deu.txt and _about.txt unless told."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in (files or {"fra.txt": FRA, "deu.txt": DEU, "_about.txt": ABOUT}).items():
        (folder / name).write_bytes(data)
    return folder


def manythings_zip(path, compression=zipfile.ZIP_DEFLATED, **files):
    """A zip of manythings' shape: fra.txt and _about.txt unless told."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in (files or {"fra.txt": FRA, "_about.txt": ABOUT}).items():
            archive.writestr(name, data)
    return path


def test_the_original_projects_folder_gives_its_french_file_only_and_lists_what_it_skipped(tmp_path):
    """The issue's report: fra.txt + deu.txt + _about.txt used to become one mixed file."""
    folder = manythings_folder(tmp_path / "bilingual-sentence-pairs" / "versions" / "3")
    (folder / "notes.md").write_bytes(b"not pairs\n")
    (folder / "spa.txt").mkdir()  # a folder, even one named like a language file, is skipped
    pairs, report = clean_pairs(folder)
    assert pairs == [("Hi.", "Salut.", ATTR), ("Yes.", "Oui.", ATTR)]
    assert report.files == [str(folder / "fra.txt")] and report.lang == "fra"
    assert report.skipped == {str(folder): ["_about.txt", "deu.txt", "notes.md", "spa.txt"]}
    assert report.read == 2 and not dropped(report)
    text = str(report)
    assert text.splitlines()[0] == f"read 2 lines from {folder / 'fra.txt'}"
    assert f"skipped in {folder}: _about.txt, deu.txt, notes.md, spa.txt" in text


def test_lang_picks_another_language_from_a_folder(tmp_path):
    folder = manythings_folder(tmp_path / "3")
    pairs, report = clean_pairs(folder, lang="deu")
    assert [p[:2] for p in pairs] == [("Hi.", "Hallo."), ("No.", "Nein.")]
    assert report.files == [str(folder / "deu.txt")] and report.skipped[str(folder)] == ["_about.txt", "fra.txt"]
    assert language_file("deu") == "deu.txt"


@pytest.mark.parametrize("bad", ["FRA", "fr", "fren", "../x", "fra.txt", "", 3, None])
def test_a_lang_that_is_not_a_three_letter_code_is_refused(tmp_path, bad):
    folder = manythings_folder(tmp_path / "3")
    with pytest.raises(ValueError, match=r"lang must be a three-letter language code .*got"):
        clean_pairs(folder, lang=bad)


def test_a_folder_without_the_language_file_is_an_error_naming_what_it_holds(tmp_path):
    folder = manythings_folder(tmp_path / "3", **{"deu.txt": DEU, "_about.txt": ABOUT})
    with pytest.raises(FileNotFoundError) as info:
        clean_pairs(folder)
    assert str(info.value) == (
        f"{folder}: folder has no fra.txt (nor fra-eng.zip), only _about.txt, deu.txt: name the file to "
        "clean, or pick another language with --lang (lang= in Python)"
    )
    many = manythings_folder(tmp_path / "kaggle", **{f"{c}{d}x.txt": b"" for c in "abcdef" for d in "ab"})
    with pytest.raises(FileNotFoundError, match=r"only aax\.txt, abx\.txt, .*, dbx\.txt and 4 more: "):
        clean_pairs(many)


def test_the_manythings_zip_is_cleaned_as_it_is_without_unzipping(tmp_path):
    archive = manythings_zip(tmp_path / "fra-eng.zip")
    pairs, report = clean_pairs(archive)
    assert pairs == [("Hi.", "Salut.", ATTR), ("Yes.", "Oui.", ATTR)]
    assert report.files == [f"{archive}/fra.txt"] and report.skipped == {str(archive): ["_about.txt"]}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fra-eng.zip"]  # nothing unpacked
    assert clean_pairs(archive.read_bytes())[0] == pairs  # a zip's bytes too
    assert clean_pairs(tmp_path / "fra-eng.zip", lang="fra")[1].per_file == {
        f"{archive}/fra.txt": {"read": 2, "kept": 2, "dropped": 0}
    }


def test_a_zip_is_known_by_its_bytes_whatever_its_name_and_its_file_may_sit_in_a_folder(tmp_path):
    archive = manythings_zip(tmp_path / "download", **{"fra-eng/fra.txt": FRA, "fra-eng/_about.txt": ABOUT})
    pairs, report = clean_pairs(archive)
    assert [p[:2] for p in pairs] == [("Hi.", "Salut."), ("Yes.", "Oui.")]
    assert report.files == [f"{archive}/fra-eng/fra.txt"]
    assert report.skipped == {str(archive): ["fra-eng/_about.txt"]}


def test_a_zip_without_the_language_file_or_with_two_is_an_error_naming_what_it_holds(tmp_path):
    german = manythings_zip(tmp_path / "deu-eng.zip", **{"deu.txt": DEU, "_about.txt": ABOUT})
    with pytest.raises(ValueError) as info:
        clean_pairs(german)
    assert str(info.value) == (
        f"{german} holds no fra.txt, only _about.txt, deu.txt: pick the language of one of them with --lang "
        "(lang= in Python)"
    )
    assert [p[1] for p in clean_pairs(german, lang="deu")[0]] == ["Hallo.", "Nein."]
    two = manythings_zip(tmp_path / "two.zip", **{"a/fra.txt": FRA, "b/fra.txt": FRA})
    with pytest.raises(ValueError, match=r"two\.zip holds 2 files named fra\.txt, only a/fra\.txt, b/fra\.txt"):
        clean_pairs(two)


def test_a_folder_of_downloads_gives_its_manythings_zip(tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    manythings_zip(folder / "fra-eng.zip")
    manythings_zip(folder / "deu-eng.zip", **{"deu.txt": DEU, "_about.txt": ABOUT})
    pairs, report = clean_pairs(folder)
    assert [p[1] for p in pairs] == ["Salut.", "Oui."]
    assert report.files == [f"{folder / 'fra-eng.zip'}/fra.txt"]
    assert report.skipped == {str(folder): ["deu-eng.zip"], str(folder / "fra-eng.zip"): ["_about.txt"]}
    assert [p[1] for p in clean_pairs(folder, lang="deu")[0]] == ["Hallo.", "Nein."]
    (folder / "fra.txt").write_bytes(b"Go.\tVa.\n")  # the file itself, when there, comes before the zip
    assert clean_pairs(folder)[0] == [("Go.", "Va.")]


def test_a_damaged_zip_is_refused_with_a_clear_error(tmp_path):
    whole = manythings_zip(tmp_path / "fra-eng.zip", **{"fra.txt": FRA * 50, "_about.txt": ABOUT}).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])  # an interrupted download: no directory at the end
    with pytest.raises(ValueError, match=r"cut\.zip is not a complete zip file \(a download cut off\?\)"):
        clean_pairs(cut)
    stored = manythings_zip(tmp_path / "stored.zip", zipfile.ZIP_STORED, **{"fra.txt": FRA})  # bytes as they are
    data = stored.read_bytes()
    at = data.index(b"Salut")
    stored.write_bytes(data[:at] + b"Salue" + data[at + 5 :])  # one byte changed: the CRC no longer matches
    with pytest.raises(ValueError, match=r"stored\.zip/fra\.txt cannot be read from its zip \(.*CRC.*\)"):
        clean_pairs(stored)


def test_a_utf16_file_inside_a_zip_is_refused_naming_the_zip_and_the_file(tmp_path):
    archive = manythings_zip(tmp_path / "fra-eng.zip", **{"fra.txt": "Hi.\tSalut.\n".encode("utf-16")})
    with pytest.raises(ValueError, match=r"fra-eng\.zip/fra\.txt looks like UTF-16"):
        clean_pairs(archive)


def test_manythings_about_file_is_never_read_as_pairs(tmp_path):
    (tmp_path / "_about.txt").write_bytes(ABOUT)
    with pytest.raises(ValueError, match=r"_about\.txt is manythings\.org's note on where the pairs come from"):
        clean_pairs(tmp_path / "_about.txt")


def test_several_inputs_are_cleaned_together_with_counts_per_file(tmp_path):
    archive = manythings_zip(tmp_path / "fra-eng.zip")
    (tmp_path / "mine.tsv").write_bytes(b"Hi.\tSalut.\nNo.\tNon.\nbroken\n")
    pairs, report = clean_pairs([archive, tmp_path / "mine.tsv"])
    assert [p[:2] for p in pairs] == [("Hi.", "Salut."), ("Yes.", "Oui."), ("No.", "Non.")]
    assert report.per_file == {
        f"{archive}/fra.txt": {"read": 2, "kept": 2, "dropped": 0},
        str(tmp_path / "mine.tsv"): {"read": 3, "kept": 1, "dropped": 2},
    }
    assert all(n["read"] == n["kept"] + n["dropped"] for n in report.per_file.values())
    assert dropped(report) == {"duplicate": 1, "columns": 1}
    assert report.first_drop["duplicate"] == f"{tmp_path / 'mine.tsv'}:1"
    lines = str(report).splitlines()
    assert lines[1].split()[-6:] == ["2", "read", "2", "kept", "0", "dropped"]
    assert lines[2].split()[-6:] == ["3", "read", "1", "kept", "2", "dropped"]
    two = clean_pairs([b"Hi.\tSalut.\n", b"Hi.\tSalut.\n"])[1]  # bytes, twice: told apart by number
    assert two.files == ["<bytes 1>", "<bytes 2>"] and two.dropped["duplicate"] == 1


def test_the_same_file_given_twice_is_refused_under_any_name(tmp_path, monkeypatch):
    folder = manythings_folder(tmp_path / "3")
    monkeypatch.chdir(tmp_path)
    for sources in [["3/fra.txt", "./3/fra.txt"], ["3", str(folder / "fra.txt")]]:
        with pytest.raises(ValueError, match=r"fra\.txt is .*fra\.txt, given twice: give each file once"):
            clean_pairs(sources)
    archive = manythings_zip(tmp_path / "fra-eng.zip")
    with pytest.raises(ValueError, match=r"given twice"):
        clean_pairs([archive, "fra-eng.zip"])
    assert clean_pairs(["3/fra.txt", archive])[1].dropped["duplicate"] == 2  # the same pairs in two files: counted


def test_bytes_can_be_cleaned_directly():
    pairs, report = clean_pairs(b"Hi.\tSalut.\nbroken\n")
    assert pairs == [("Hi.", "Salut.")] and report.files == ["<bytes>"]
    assert report.first_drop["columns"] == "<bytes>:2"


def test_missing_input_and_empty_folder_and_bad_max_len_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        clean_pairs(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match=r"folder has no fra\.txt \(nor fra-eng\.zip\), only nothing"):
        clean_pairs(tmp_path)
    with pytest.raises(ValueError, match=r"clean_pairs: no input given"):
        clean_pairs([])
    for bad in [0, -1, 2.5]:
        with pytest.raises(ValueError, match="max_len must be an integer from 1 to 65536"):
            clean_pairs(b"a\tb\n", max_len=bad)


def test_the_report_prints_one_line_per_reason():
    _, report = clean_pairs(b"Hi.\tSalut.\nHi.\tSalut.\n\xff\tx\n")
    lines = str(report).splitlines()
    assert lines[0] == "read 3 lines from <bytes>"
    assert len(lines) == 2 + len(DROP_REASONS)  # header, kept, one per reason
    assert lines[1].split() == ["kept", "1"]
    assert any(line.split()[-4:] == ["1", "first", "at", "<bytes>:2"] and "duplicate" in line for line in lines)
    assert isinstance(report, CleaningReport)


# --- writing ------------------------------------------------------------------------------


def test_write_tsv_of_cleaned_pairs_writes_utf8_tsv_that_cleans_back_to_the_same_pairs(tmp_path):
    pairs = [("Hi.", "Salut.", ATTR), ("Summer.", "\u00c9t\u00e9 !")]
    path = tmp_path / "out" / "clean.tsv"
    assert write_tsv(pairs, path) == 2
    assert path.read_bytes() == f"Hi.\tSalut.\t{ATTR}\nSummer.\t\u00c9t\u00e9 !\n".encode()
    assert [p.name for p in path.parent.iterdir()] == ["clean.tsv"]  # no temporary file left
    again, report = clean_pairs(path)
    assert again == pairs and report.kept == report.read == 2


@pytest.mark.parametrize("pair", [("a\tb", "c"), ("a", "b\nc"), ("a", ""), ("a",), ("a", "b", "c", "d"), ("a", 1)])
def test_write_tsv_of_cleaned_pairs_refuses_pairs_that_would_break_the_format(tmp_path, pair):
    with pytest.raises(ValueError, match=r"write_tsv: pair 1 (is not 2 or 3 strings|has an empty|contains a tab)"):
        write_tsv([("ok", "ok"), pair], tmp_path / "out.tsv")
    assert not (tmp_path / "out.tsv").exists()


def test_write_tsv_of_cleaned_pairs_refuses_a_read_only_file_and_leaves_it_as_it_was(tmp_path):
    path = tmp_path / "clean.tsv"
    path.write_bytes(b"old\tvieux\n")
    path.chmod(0o444)  # root could still open it for writing: the mode bits are what is checked
    with pytest.raises(PermissionError, match=r"clean\.tsv.*read-only"):
        write_tsv([("Hi.", "Salut.")], path)
    assert path.read_bytes() == b"old\tvieux\n" and path.stat().st_mode & 0o777 == 0o444
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.tsv"]


# --- the command line ------------------------------------------------------------------------


def run_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "bytetrans_lib.clean_dataset", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_line_prints_the_report_and_writes_the_cleaned_pairs(tmp_path):
    (tmp_path / "fra.txt").write_bytes(
        b"\xef\xbb\xbfHi.\tSalut.\r\nHi.\tSalut.\r\n\xff\r\nA long sentence.\tUne longue phrase.\r\n"
    )
    result = run_cli("fra.txt", "-o", "cleaned/fra-eng.tsv", "--max-len", "12", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "read 4 lines from fra.txt" in result.stdout
    assert "longer than 12 bytes" in result.stdout and "wrote 1 pairs to cleaned/fra-eng.tsv" in result.stdout
    assert (tmp_path / "cleaned" / "fra-eng.tsv").read_bytes() == b"Hi.\tSalut.\n"


def test_the_command_line_reports_a_missing_input_in_one_line_with_exit_code_2(tmp_path):
    result = run_cli("missing.txt", "-o", "out.tsv", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert "Traceback" not in result.stderr
    # The last line is ours. (Python's runpy may add a RuntimeWarning above it, because the
    # package's __init__ imports every module before `-m` runs this one as __main__.)
    assert (
        result.stderr.splitlines()[-1]
        == "python -m bytetrans_lib.clean_dataset: error: missing.txt: no such file or folder"
    )
    assert not (tmp_path / "out.tsv").exists()


def test_the_command_line_refuses_bad_arguments_like_argparse(tmp_path):
    for args in [(), ("x.txt",), ("x.txt", "-o", "y.tsv", "--max-len", "0")]:
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.splitlines()[-1].startswith("python -m bytetrans_lib.clean_dataset: error:")


def cli_in(folder, monkeypatch, capsys, *args):
    """Run the command line in `folder`, in this process: (exit code, stdout, stderr)."""
    monkeypatch.chdir(folder)
    code = clean_dataset.clean_dataset_cli(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err):
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m bytetrans_lib.clean_dataset: error: "), err
    return lines[0]


DIRTY = f"Hi.\tSalut.\t{ATTR}\nHi.\tSalut.\t{ATTR}\n\xff\n".encode("latin-1")  # cleaning would change it


@pytest.mark.parametrize(
    "how", ["same name", "./ prefix", "absolute path", "symlink", "hard link", "a file of the input folder"]
)
def test_the_command_line_refuses_to_write_over_its_input_and_leaves_it_untouched(tmp_path, monkeypatch, capsys, how):
    (tmp_path / "in").mkdir()
    source = tmp_path / "in" / "fra.txt"
    source.write_bytes(DIRTY)
    if how == "symlink":
        (tmp_path / "link.tsv").symlink_to(source)
    if how == "hard link":
        (tmp_path / "link.tsv").hardlink_to(source)
    args = {
        "same name": ("in/fra.txt", "-o", "in/fra.txt"),
        "./ prefix": ("in/fra.txt", "-o", "./in/fra.txt"),
        "absolute path": ("in/fra.txt", "-o", str(source)),
        "symlink": ("in/fra.txt", "-o", "link.tsv"),
        "hard link": ("in/fra.txt", "-o", "link.tsv"),
        "a file of the input folder": ("in", "-o", "in/fra.txt"),
    }[how]
    code, out, err = cli_in(tmp_path, monkeypatch, capsys, *args)
    assert code == 2 and out == ""  # refused before cleaning: no report either
    assert "is the input" in one_error_line(err)
    assert source.read_bytes() == DIRTY
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["fra.txt"]


def test_the_command_line_on_the_original_projects_folder_writes_french_only(tmp_path, monkeypatch, capsys):
    folder = manythings_folder(tmp_path / "bilingual-sentence-pairs" / "versions" / "3")
    code, out, err = cli_in(tmp_path, monkeypatch, capsys, "bilingual-sentence-pairs/versions/3", "-o", "fra-eng.tsv")
    assert code == 0, err
    assert out.splitlines()[:2] == [
        "read 2 lines from bilingual-sentence-pairs/versions/3/fra.txt",
        "  skipped in bilingual-sentence-pairs/versions/3: _about.txt, deu.txt",
    ]
    assert (tmp_path / "fra-eng.tsv").read_bytes() == FRA
    code, out, err = cli_in(tmp_path, monkeypatch, capsys, str(folder), "--lang", "deu", "-o", "deu-eng.tsv")
    assert code == 0 and (tmp_path / "deu-eng.tsv").read_bytes() == DEU
    assert sorted(p.name for p in folder.iterdir()) == ["_about.txt", "deu.txt", "fra.txt"]


def test_the_command_line_cleans_the_zip_and_several_inputs(tmp_path, monkeypatch, capsys):
    manythings_zip(tmp_path / "fra-eng.zip")
    (tmp_path / "mine.tsv").write_bytes(b"Hi.\tSalut.\nNo.\tNon.\n")
    code, out, err = cli_in(tmp_path, monkeypatch, capsys, "fra-eng.zip", "mine.tsv", "-o", "all.tsv")
    assert code == 0, err
    assert out.splitlines()[0] == "read 4 lines from fra-eng.zip/fra.txt, mine.tsv"
    assert "skipped in fra-eng.zip: _about.txt" in out and "wrote 3 pairs to all.tsv" in out
    assert (tmp_path / "all.tsv").read_bytes() == FRA + b"No.\tNon.\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (("3",), "3: folder has no fra.txt (nor fra-eng.zip), only deu.txt"),
        (("3", "--lang", "French"), "lang must be a three-letter language code"),
        (("3/deu.txt", "./3/deu.txt"), "3/deu.txt, given twice"),
    ],
)
def test_the_command_line_refuses_a_missing_language_a_bad_lang_and_a_repeated_input(
    tmp_path, monkeypatch, capsys, args, message
):
    manythings_folder(tmp_path / "3", **{"deu.txt": DEU})
    code, out, err = cli_in(tmp_path, monkeypatch, capsys, *args, "-o", "out.tsv")
    assert code == 2 and out == "" and message in one_error_line(err)
    assert not (tmp_path / "out.tsv").exists()


def test_the_command_line_refuses_an_output_the_next_run_on_the_input_folder_would_read(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    manythings_zip(folder / "fra-eng.zip")
    code, out, err = cli_in(tmp_path, monkeypatch, capsys, "in", "-o", "in/fra.txt")  # would hide the zip
    assert code == 2 and out == ""
    assert "the next run on that folder would read instead of the original" in one_error_line(err)
    code, out, err = cli_in(tmp_path, monkeypatch, capsys, "in", "-o", "in/fra-eng.zip")
    assert code == 2 and "is the input file" in one_error_line(err)
    assert sorted(p.name for p in folder.iterdir()) == ["fra-eng.zip"]
    # any other name is fine: the next run skips it, and cleans the same pairs
    code, out, err = cli_in(tmp_path, monkeypatch, capsys, "in", "-o", "in/cleaned.tsv")
    assert code == 0, err
    again, report = clean_pairs(folder)
    assert report.skipped[str(folder)] == ["cleaned.tsv"] and len(again) == 2


def test_the_command_line_refuses_a_read_only_output_before_cleaning(tmp_path, monkeypatch, capsys):
    (tmp_path / "fra.txt").write_bytes(DIRTY)
    out_file = tmp_path / "clean.tsv"
    out_file.write_bytes(b"keep me\tgarde-moi\n")
    out_file.chmod(0o444)
    code, out, err = cli_in(tmp_path, monkeypatch, capsys, "fra.txt", "-o", "clean.tsv")
    assert code == 2 and out == ""
    assert one_error_line(err) == (
        "python -m bytetrans_lib.clean_dataset: error: cannot write clean.tsv: the file is read-only (mode 444)"
    )
    assert out_file.read_bytes() == b"keep me\tgarde-moi\n" and out_file.stat().st_mode & 0o777 == 0o444


@pytest.mark.parametrize("output", ["locked/clean.tsv", "locked/new/folders/clean.tsv"])
def test_the_command_line_refuses_an_output_folder_that_cannot_be_written(tmp_path, monkeypatch, capsys, output):
    (tmp_path / "fra.txt").write_bytes(DIRTY)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked").chmod(0o555)
    try:
        code, out, err = cli_in(tmp_path, monkeypatch, capsys, "fra.txt", "-o", output)
        assert code == 2 and out == ""
        assert f"cannot write {output}: the folder locked is read-only (mode 555)" in one_error_line(err)
        assert list((tmp_path / "locked").iterdir()) == []
    finally:
        (tmp_path / "locked").chmod(0o755)


def test_the_command_line_refuses_a_folder_as_output(tmp_path, monkeypatch, capsys):
    (tmp_path / "fra.txt").write_bytes(DIRTY)
    (tmp_path / "out").mkdir()
    code, out, err = cli_in(tmp_path, monkeypatch, capsys, "fra.txt", "-o", "out")
    assert code == 2 and one_error_line(err).endswith("error: cannot write out: it is a folder, not a file")


def test_the_command_line_refuses_a_utf16_file_in_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    (tmp_path / "fra.txt").write_bytes("Hi.\tSalut.\n".encode("utf-16"))
    code, out, err = cli_in(tmp_path, monkeypatch, capsys, "fra.txt", "-o", "clean.tsv")
    assert code == 2 and out == ""
    assert one_error_line(err) == (
        "python -m bytetrans_lib.clean_dataset: error: fra.txt looks like UTF-16 (it starts with the "
        "byte-order mark FF FE), not UTF-8: open it in an editor and save it as UTF-8; nothing was cleaned"
    )
    assert not (tmp_path / "clean.tsv").exists()


def test_the_entry_point_runs_as_a_program_and_does_nothing_in_a_jupyter_kernel(tmp_path, monkeypatch, capsys):
    """The `#| export_main` cell, run as the module's __main__ block with and without ipykernel."""
    (tmp_path / "in.tsv").write_bytes(b"Hi.\tSalut.\n")
    module_file = clean_dataset.__file__
    # A kernel: sys.argv holds the kernel's flags, which must not be parsed.
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setattr(sys, "argv", ["ipykernel_launcher.py", "-f", str(tmp_path / "kernel-1.json")])
    runpy.run_path(module_file, run_name="__main__")  # returns: no SystemExit, nothing parsed
    assert capsys.readouterr() == ("", "")
    # A program: the command line is parsed and the exit code is passed on.
    monkeypatch.delitem(sys.modules, "ipykernel")
    monkeypatch.setattr(sys, "argv", ["clean_dataset", str(tmp_path / "in.tsv"), "-o", str(tmp_path / "out.tsv")])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(module_file, run_name="__main__")
    assert exit_info.value.code == 0
    assert (tmp_path / "out.tsv").read_bytes() == b"Hi.\tSalut.\n"
    assert f"read 1 lines from {tmp_path / 'in.tsv'}" in capsys.readouterr().out


# --- the real data -----------------------------------------------------------------------------


def test_the_real_5000_tatoeba_pairs_clean_as_documented():
    if not REAL.is_file():
        pytest.skip(f"{REAL} not found (the 5,000 real pairs sit next to the repository, not in it)")
    pairs, report = clean_pairs(REAL)
    assert report.read == report.kept + sum(report.dropped.values())
    assert report.read == 5000 and report.kept >= 0.95 * report.read
    assert all(len(p) == 3 and p[2].startswith("CC-BY 2.0 (France) Attribution: tatoeba.org #") for p in pairs)
    for english, french, _ in pairs:
        assert not any(ch in english + french for ch in FRENCH_SPACES)
        assert unicodedata.is_normalized("NFC", french) and len(french.encode()) <= 60
    if hashlib.sha256(REAL.read_bytes()).hexdigest() == REAL_SHA256:  # the file SOURCE.md describes
        # The numbers notebook 07 prints from data/tatoeba-5k-cleaning.json and its prose quotes: 44
        # duplicates are spacing variants of an earlier pair, 6 differ from one only by ’ for '.
        recorded = json.loads(RECORDED_5K.read_text(encoding="utf-8"))
        assert (report.read, report.kept, report.dropped) == (recorded["read"], recorded["kept"], recorded["dropped"])
        assert report.kept == 4949
        assert dropped(report) == {"too_long": 1, "duplicate": 50}
        assert not any("’" in english + french for english, french, _ in pairs)


def test_the_recorded_counts_of_the_5000_pairs_name_their_file_and_hold_only_numbers():
    """What notebook 07 prints on every machine, with or without the file (which is not ours to ship)."""
    recorded = json.loads(RECORDED_5K.read_text(encoding="utf-8"))
    assert recorded["file"] == REAL.name and recorded["sha256"] == REAL_SHA256
    assert set(recorded["dropped"]) == set(DROP_REASONS)
    assert recorded["read"] == recorded["kept"] + sum(recorded["dropped"].values())
    assert set(recorded) == {"file", "sha256", "read", "kept", "dropped"}  # no sentence of the data


# --- issue 13, second probe: what the cleaner must not keep, and what it must not destroy ----------


@pytest.mark.parametrize(
    "line",
    [
        b"Hi.\x00\x00\tSalut.\x1b[31m",  # NUL bytes and a terminal colour code
        b"Hi.\tSalut.\x7f",  # DEL
        "Hi.\tSalut.\u0085".encode(),  # a C1 control (NEXT LINE), valid UTF-8
        b"Hi.\x0b\tSalut.",  # vertical tab
        b"Hi.\rThere.\tSalut.",  # a carriage return inside a line of a \n file
    ],
)
def test_a_line_with_a_control_character_is_dropped_and_counted(tmp_path, line):
    pairs, report = clean(tmp_path, b"Yes.\tOui.\n" + line + b"\nNo.\tNon.\n")
    assert pairs == [("Yes.", "Oui."), ("No.", "Non.")]
    assert dropped(report) == {"control": 1} and report.first_drop["control"] == "pairs.tsv:2"
    assert list(DROP_REASONS).index("control") == list(DROP_REASONS).index("utf8") + 1  # checked after UTF-8
    assert "dropped, control character" in str(report)


def test_a_utf16_part_after_the_first_4_kb_is_dropped_line_by_line_not_kept(tmp_path):
    utf8 = "".join(f"I see {i} cats.\tJe vois {i} chats.\n" for i in range(200)).encode()
    assert len(utf8) > 4096  # the whole-file UTF-16 check only samples the first 4 KB
    utf16 = "Hi.\tSalut.\nYes.\tOui.\n".encode("utf-16")  # as `cat utf8.txt utf16.txt` joins them
    pairs, report = clean(tmp_path, utf8 + utf16)
    assert len(pairs) == 200 and not any("\x00" in f for p in pairs for f in p)
    assert report.kept == 200 and report.read == 203
    # the BOM line is not UTF-8; a NUL-interleaved line is control characters; the last "\x00" is cut off
    assert dropped(report) == {"utf8": 1, "control": 1, "truncated": 1}


def test_old_mac_line_endings_a_lone_carriage_return_split_lines(tmp_path):
    pairs, report = clean(tmp_path, f"Hi.\tSalut.\t{ATTR}\rYes.\tOui.\rNo.\tNon.\r".encode())
    assert pairs == [("Hi.", "Salut.", ATTR), ("Yes.", "Oui."), ("No.", "Non.")]
    assert report.read == 3 and not dropped(report)
    assert raw_lines(b"a\tb\rc\td") == [b"a\tb", b"c\td"]  # no final \r: nothing lost either
    assert raw_lines(b"a\tb\r\nc\td\r\n") == [b"a\tb", b"c\td"]  # CRLF still splits at \n


def test_clean_pairs_accepts_numpy_integers_as_max_len_and_refuses_booleans():
    pairs, report = clean_pairs(b"Hi.\tSalut.\n", max_len=np.int64(60))
    assert pairs == [("Hi.", "Salut.")] and type(report.max_len) is int
    for bad in [True, np.bool_(True), "60", 60.0]:
        with pytest.raises(ValueError, match=r"clean_pairs: max_len must be an integer from 1 to 65536"):
            clean_pairs(b"Hi.\tSalut.\n", max_len=bad)


def test_write_tsv_of_cleaned_pairs_writes_through_a_symbolic_link_and_keeps_the_link(tmp_path):
    target = tmp_path / "real.tsv"
    target.write_bytes(b"old\tvieux\n")
    (tmp_path / "link.tsv").symlink_to(target)
    assert write_tsv([("Hi.", "Salut.")], tmp_path / "link.tsv") == 1
    assert (tmp_path / "link.tsv").is_symlink() and target.read_bytes() == b"Hi.\tSalut.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.tsv", "real.tsv"]  # no temporary file left


def test_write_tsv_of_cleaned_pairs_never_touches_a_file_named_like_a_temporary_file(tmp_path):
    mine = tmp_path / "clean.tsv.partial"
    mine.write_bytes(b"my own notes\n")
    write_tsv([("Hi.", "Salut.")], tmp_path / "clean.tsv")
    assert mine.read_bytes() == b"my own notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.tsv", "clean.tsv.partial"]


def test_write_tsv_of_cleaned_pairs_refuses_a_pipe_and_leaves_it_a_pipe(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    with pytest.raises(ValueError, match=r"write_tsv: cannot write .*pipe: it is not a regular file"):
        write_tsv([("Hi.", "Salut.")], pipe)
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode) and sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_the_command_line_refuses_a_pipe_as_output_and_writes_through_a_link(tmp_path, monkeypatch, capsys):
    (tmp_path / "fra.txt").write_bytes(DIRTY)
    os.mkfifo(tmp_path / "pipe")
    code, out, err = cli_in(tmp_path, monkeypatch, capsys, "fra.txt", "-o", "pipe")
    assert code == 2 and out == ""
    assert one_error_line(err).endswith("cannot write pipe: it is not a regular file (a device, a pipe or a socket)")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe").st_mode)
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "real.tsv").write_bytes(b"old\tvieux\n")
    (tmp_path / "link.tsv").symlink_to(tmp_path / "kept" / "real.tsv")
    (tmp_path / "link.tsv.partial").write_bytes(b"mine\n")
    code, out, err = cli_in(tmp_path, monkeypatch, capsys, "fra.txt", "-o", "link.tsv")
    assert code == 0, err
    assert (tmp_path / "link.tsv").is_symlink()
    assert (tmp_path / "kept" / "real.tsv").read_bytes() == f"Hi.\tSalut.\t{ATTR}\n".encode()
    assert (tmp_path / "link.tsv.partial").read_bytes() == b"mine\n"
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["real.tsv"]


def test_the_real_pairs_clean_the_same_from_a_manythings_zip_and_folder(tmp_path):
    if not REAL.is_file():
        pytest.skip(f"{REAL} not found (the 5,000 real pairs sit next to the repository, not in it)")
    pairs, report = clean_pairs(REAL)
    archive = manythings_zip(tmp_path / "fra-eng.zip", **{"fra.txt": REAL.read_bytes(), "_about.txt": ABOUT})
    zip_pairs, zip_report = clean_pairs(archive)
    folder = manythings_folder(tmp_path / "3", **{"fra.txt": REAL.read_bytes(), "deu.txt": DEU, "_about.txt": ABOUT})
    folder_pairs, _ = clean_pairs(folder)
    assert zip_pairs == folder_pairs == pairs
    assert zip_report.dropped == report.dropped and zip_report.per_file[f"{archive}/fra.txt"]["read"] == 5000
