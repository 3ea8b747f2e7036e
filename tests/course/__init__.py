"""Tests of course/: the kit learners import (scripted model, recording, pictures, traps, controls...)."""
