from grader.cli import cli

cli(prog_name="pa5-grader")
