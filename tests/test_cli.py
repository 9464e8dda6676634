"""The generated CLI: every command is registered, options come from typed signatures."""

from __future__ import annotations

import json

import pytest

from alignguard.cli import COMMANDS, build_parser, main


def test_every_registered_command_resolves_to_a_function():
    from alignguard.cli import _resolve

    for name, target in COMMANDS.items():
        fn = _resolve(target)
        assert callable(fn), name
        assert fn.__doc__ and "Args:" in fn.__doc__, f"{name} needs a docstring with Args:"


def test_parser_maps_types_and_help(capsys):
    parser = build_parser()
    args = parser.parse_args(["train", "--lam-A", "3.5", "--steps", "7", "--target-modules", "q_proj,v_proj",
                              "--no-resume"])
    assert args.lam_A == 3.5 and args.steps == 7 and args.target_modules == ["q_proj", "v_proj"]
    assert args.resume is False
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--steps", "many"])


def test_trailing_underscore_parameters_get_plain_flags(capsys):
    args = build_parser().parse_args(["demo", "--json", "--seeds", "2"])
    assert args.json_ is True and args.seeds == 2
    assert build_parser().parse_args(["demo"]).json_ is False
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--json-"])
    capsys.readouterr()


def test_train_print_config_applies_overrides(capsys):
    assert main(["train", "--method", "lora", "--r", "4", "--lam-A", "2", "--print-config"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["method"] == "lora" and cfg["lora"]["r"] == 4 and cfg["reg"]["lam_A"] == 2.0


def test_bad_input_is_a_one_line_error_not_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stepz: 3\n")
    assert main(["train", "--config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "unknown key(s) ['stepz']" in err and "Traceback" not in err
