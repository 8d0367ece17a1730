"""The shipped spaces: ``zoo:NAME`` wherever a space is accepted, ``nascompile zoo``, and every
document's recorded figures equal to what ``build`` computes."""
from __future__ import annotations

import pytest

from helpers.cli import nascompile, one_error_line
from nascompile.cli import main
from nascompile.cli.zoo import check
from nascompile.compiler import load_space
from nascompile.errors import SpaceError
from nascompile.frontend.load import load_file
from nascompile.frontend.zoo import zoo_names, zoo_path

NAMES = zoo_names()


def test_the_zoo_ships_the_literature_spaces():
    assert {"nasbench201"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_each_document_names_itself_and_its_paper(name):
    data = load_file(zoo_path(name)).data
    assert data["name"] == name, "a zoo document's name is its zoo: name"
    assert data["reference"]["paper"].strip()
    assert "architectures" in data["reference"] and "params" in data["reference"]


@pytest.mark.parametrize("name", NAMES)
def test_build_gives_the_recorded_figures(name):
    assert check(name) == []


def test_zoo_names_are_accepted_where_paths_are(tmp_path, capsys):
    assert load_space("zoo:nasbench201").graph is not None
    assert main(["build", "zoo:nasbench201", "-o", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "architectures  15,625" in out and "zoo/nasbench201.yaml" in out
    assert (tmp_path / "b" / "space.json").is_file()


def test_unknown_zoo_name_is_one_line_listing_the_spaces():
    with pytest.raises(SpaceError, match="nasbench201"):
        load_space("zoo:nasbench202")
    line = one_error_line(nascompile("build", "zoo:no-such-space", expect=2))
    assert "no space named 'zoo:no-such-space'" in line and "nasbench201" in line


def test_listing_and_details(capsys):
    assert main(["zoo"]) == 0
    out = capsys.readouterr().out
    for name in NAMES:
        assert f"\n{name} " in out
    assert "15,625" in out
    assert main(["zoo", "nasbench201"]) == 0
    out = capsys.readouterr().out
    assert "73,306 .. 1,531,546" in out and "--set" in out


def test_check_reports_a_wrong_reference(tmp_path, monkeypatch):
    import nascompile.frontend.zoo as zoo

    text = zoo_path("nasbench201").read_text().replace("architectures: 15625", "architectures: 15626")
    (tmp_path / "nasbench201.yaml").write_text(text)
    monkeypatch.setattr(zoo, "data_dir", lambda kind: tmp_path)
    wrong = check("nasbench201")
    assert len(wrong) == 1 and "15625" in wrong[0] and "15626" in wrong[0]
    assert main(["zoo", "nasbench201", "--check"]) == 1
