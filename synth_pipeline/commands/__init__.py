"""CLI commands kept in their own modules; each exposes ``register(subparsers)``.

Listed in ``synth_pipeline.cli.COMMAND_MODULES``; shared helpers live in ``synth_pipeline.cli``.
"""
