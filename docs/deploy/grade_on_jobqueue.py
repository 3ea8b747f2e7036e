"""Grade a class on Slurm or HTCondor through dask-jobqueue (NOT TESTED here: no batch system).

    pip install dask-jobqueue==0.9.0          # on the submit host, in the course's environment
    python docs/deploy/grade_on_jobqueue.py slurm 64 SUBMISSIONS --out grades/ --db postgresql://...

Starts the scheduler in this process (it needs Dask only), submits N worker jobs with the
settings of jobqueue.yaml, then runs `python -m autograder grade --scheduler ADDRESS ...` with the
remaining arguments, and stops the jobs at the end. Workers that start late join the running
batch; a job killed by the batch system is a lost worker, whose notebooks go to the others.
"""

import subprocess
import sys


def main() -> int:
    kind, count, grade_args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if kind == "slurm":
        from dask_jobqueue import SLURMCluster as Cluster
    elif kind == "htcondor":
        from dask_jobqueue import HTCondorCluster as Cluster
    else:
        raise SystemExit("first argument: slurm or htcondor")
    # The address must be one the compute nodes can reach: set jobqueue.<kind>.interface (e.g. ib0)
    # or scheduler-options: {host: ...} in jobqueue.yaml when the default one is not.
    with Cluster(scheduler_options={"dashboard_address": None}) as cluster:
        cluster.scale(jobs=count)
        print(f"scheduler at {cluster.scheduler_address}; {count} worker jobs submitted", file=sys.stderr)
        return subprocess.call([sys.executable, "-m", "autograder", "grade", *grade_args,
                                "--scheduler", cluster.scheduler_address])


if __name__ == "__main__":
    sys.exit(main())
