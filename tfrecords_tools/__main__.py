"""`python -m tfrecords_tools synth|convert|inspect` (see tfrecords_tools/cli.py)."""
from tfrecords_tools.errors import import_tensorflow_quietly, run_cli

if __name__ == "__main__":
    import_tensorflow_quietly()
    from tfrecords_tools.cli import main

    run_cli(main)
