"""The frame network's training targets live in the core (``railwatch_plugin.core.frame_targets``),
where the adaptation to a site's imagery uses them too; this name stays for the training scripts."""

from railwatch_plugin.core.frame_targets import REG_MIN_HEAT, SIGMA_ACROSS_M, targets  # noqa: F401
