"""The dock panel: a thin front end that builds Processing parameters and runs the
same ``railwatch:*`` algorithms as the toolbox."""
