"""The generated CLI: commands load lazily, options come from typed signatures and dataclasses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from alignguard.cli import COMMANDS, build_command_parser, main


def test_every_registered_command_resolves_to_a_function():
    from alignguard.cli import _resolve

    for name, (target, summary) in COMMANDS.items():
        fn = _resolve(target)
        assert callable(fn) and summary, name
        assert fn.__doc__ and "Args:" in fn.__doc__, f"{name} needs a docstring with Args:"


def test_train_options_come_from_the_nested_dataclasses(capsys):
    parser = build_command_parser("train")
    args = parser.parse_args(["--reg.lam-A", "3.5", "--steps", "7", "--lora.target-modules",
                              "q_proj,v_proj", "--no-resume", "--alignment.gate-examples", "9"])
    given = {k.split(":", 1)[1]: v for k, v in vars(args).items() if k.startswith("train:")}
    assert given == {"reg.lam_A": "3.5", "steps": "7", "lora.target_modules": "q_proj,v_proj",
                     "resume": False, "alignment.gate_examples": "9"}
    help_text = parser.format_help()
    assert "--reg.lam-A" in help_text and "--lam-A" in help_text  # dotted name and short alias
    assert "(default: 0.002)" in help_text  # lr: the real default, not None


def test_a_help_line_that_starts_with_word_colon_continues_its_option():
    """A continuation line such as "default: ..." is part of the option above, not a new one."""
    help_text = " ".join(build_command_parser("train").format_help().split())
    assert "alignguard (the default: a context-matched KL behaviour anchor" in help_text
    assert "default for the organism: ``organism-pretrained``" in help_text


def test_dotted_options_and_aliases_reach_the_config(capsys):
    assert main(["train", "--method", "lora", "--r", "4", "--lam-A", "2", "--reg.lam-T", "0.5",
                 "--lora.alpha", "8", "--alignment-data", "organism:alignment", "--gate", "0",
                 "--print-config"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["method"] == "lora" and cfg["lora"]["r"] == 4 and cfg["lora"]["alpha"] == 8.0
    assert cfg["reg"]["lam_A"] == 2.0 and cfg["reg"]["lam_T"] == 0.5 and cfg["reg"]["gate"] == 0.0
    assert cfg["alignment"]["data"] == "organism:alignment"
    assert cfg["resolved_reg"]["lam_A"] == 0.0  # the lora preset zeroes the penalty weights


def test_trailing_underscore_parameters_get_plain_flags(capsys):
    parser = build_command_parser("demo")
    args = parser.parse_args(["--json", "--seeds", "2"])
    assert args.json_ is True and args.seeds == 2
    assert parser.parse_args([]).json_ is False
    with pytest.raises(SystemExit):
        parser.parse_args(["--json-"])
    capsys.readouterr()


@pytest.mark.parametrize("yaml_text, argv, message", [
    ("stepz: 3\n", [], "unknown key(s) ['stepz']"),
    ("steps: 2.7\n", [], "steps must be an integer"),
    ("", ["--steps", "2.7"], "steps must be an integer"),
    ("lr: fast\n", [], "lr must be a number"),
    ("device: tpu\n", [], "device must be one of"),
    ("lora: {alpha: 0}\n", [], "alpha must be > 0"),
    ("save_every: -1\n", [], "save_every must be >= 0"),
    ("keep_checkpoints: 0\n", [], "keep_checkpoints must be >= 1"),
    ("reg: 3\n", [], "must be a mapping"),
])
def test_bad_config_is_a_one_line_error_before_anything_is_written(tmp_path, capsys, yaml_text,
                                                                   argv, message):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml_text + f"output_dir: {tmp_path / 'out'}\n")
    assert main(["train", "--config", str(bad), *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_yaml_scalars_are_coerced_by_annotation(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text("lr: 1e-4\nsteps: '12'\nresume: 'no'\nreg: {lam_A: 3}\n")
    assert main(["train", "--config", str(good), "--print-config"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["lr"] == 1e-4 and cfg["steps"] == 12 and cfg["resume"] is False
    assert cfg["reg"]["lam_A"] == 3.0


def test_a_command_that_fails_to_import_says_so(monkeypatch, capsys):
    monkeypatch.setitem(COMMANDS, "demo", ("alignguard.no_such_module:demo_command", "x"))
    assert main(["demo"]) == 1
    err = capsys.readouterr().err
    assert "the 'demo' command could not be loaded" in err and "no_such_module" in err


def test_top_level_help_lists_commands_without_importing_them():
    code = ("import sys; from alignguard.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('LOADED' if 'alignguard.training.loop' in sys.modules or 'torch' in sys.modules else 'LAZY')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "train" in out and "scaling sweep" in out and out.strip().endswith("LAZY")


def test_unknown_command_is_an_error(capsys):
    with pytest.raises(SystemExit):
        main(["trian"])
    assert "unknown command" in capsys.readouterr().err


def test_a_users_model_needs_alignment_data_before_it_loads(tiny_model_dir, tiny_jsonl, tmp_path,
                                                            capsys):
    out = tmp_path / "run"
    assert main(["train", "--model", str(tiny_model_dir), "--data", str(tiny_jsonl),
                 "--output-dir", str(out)]) == 1
    err = capsys.readouterr().err
    assert "needs alignment data" in err and "--alignment-data" in err and not out.exists()
    assert main(["train", "--model", str(tiny_model_dir), "--method", "lora", "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["alignment"]["data"] is None


def test_demo_takes_the_defense_options_of_train(capsys):
    assert main(["demo", "--method", "alignguard", "--reg.lam-rdir", "2", "--reg.kl-refusal-tokens",
                 "4", "--seeds", "2", "--print-config"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["method"] == "alignguard" and cfg["seeds"] == [0, 1]
    assert cfg["train"]["reg"]["lam_rdir"] == 2.0 and cfg["train"]["reg"]["kl_refusal_tokens"] == 4
    assert main(["demo", "--method", "agl", "--lam-A", "3", "--reg.lam-A", "5", "--print-config"]) == 1
    assert "--lam-A and --reg.lam-A both set" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: no such option
        main(["demo", "--reg.lam-kll", "2"])
    assert "unrecognized arguments: --reg.lam-kll" in capsys.readouterr().err
