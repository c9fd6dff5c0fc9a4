"""The drift service's one C extension: input novelty of ASCII prompts (`adaptloop_drift._novelty`).

It is optional: where no C compiler or Python headers are found the package installs without it
and `adaptloop_drift.novelty` computes the same values in Python (`NATIVE` says whether it was
built; the metric `adaptloop_drift_native_novelty` says whether it runs).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("adaptloop_drift._novelty", ["src/adaptloop_drift/_novelty.c"],
                             extra_compile_args=["-O2"], optional=True)])
