"""`synth-pipeline compare`: registered, and refuses unknown generators."""


def test_compare_command_is_registered_and_refuses_unknown_generators(capsys):
    from synth_pipeline.cli import build_parser, main

    args = build_parser().parse_args(["compare", "--generators", "dp-tvae", "tvae", "--epsilons", "1", "3"])
    assert args.generators == ["dp-tvae", "tvae"] and args.epsilons == [1.0, 3.0]
    assert main(["compare", "--generators", "gan-9000"]) == 2
    assert "unknown generator(s) ['gan-9000']" in capsys.readouterr().err
