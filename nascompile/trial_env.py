"""Environment variables between a search controller and its trial processes (no torch here:
the controller and the CLI read them without importing torch)."""

SSGEN_OUTPUT = "NASCOMPILE_SSGEN_OUTPUT"  # ss-gen: where the trial writes its search space, then exits
TRIAL_PARAMETERS = "NASCOMPILE_TRIAL_PARAMETERS"  # the tuner's parameters for this trial (JSON file)
TRIAL_RESULTS = "NASCOMPILE_TRIAL_RESULTS"  # where the trial appends its reported results (JSON lines)
NNI_GEN_SEARCH_SPACE = "NNI_GEN_SEARCH_SPACE"  # what nnictl ss_gen set: write the search space there, then exit
