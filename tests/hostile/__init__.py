"""The hostile corpus (corpus.py) and the driver that runs it (driver.py); see tests/test_hostile_inputs.py."""
