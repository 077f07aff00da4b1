"""Developer tools: they generate the project's files and may import every package.

``python -m tools.wallet_examples [--check]`` regenerates (or checks) the wallet specification's
worked examples in ``wallet_spec/examples/``.
"""
