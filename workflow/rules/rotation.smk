"""Beyond the paper (Figure 5): training in rotated coordinates. Rotated runs (the plain ones at
theta = 0 come from cifar_train) -> smoothness estimates in each run's rotated coordinates along
the selected-step trajectories (theta = 0: Figure 3's) -> results/cifar/rotation.csv ->
figures/figure5.{pdf,png}.
"""


wildcard_constraints:
    theta=r"[0-9.e+-]+",


use rule cifar_train as cifar_train_rotated with:
    output:
        CIFAR.status_pattern(rotated=True),
    log:
        f"logs/cifar/train/{run_key_pattern(rotated=True)}.log",
    benchmark:
        f"benchmarks/cifar/train/{run_key_pattern(rotated=True)}.tsv"


rule cifar_smoothness_rotated:
    input:
        step_sizes=f"{CDIR}/{{model}}/step_sizes.csv",
        run=ROTATION.selected_run,
        data=CIFAR.data_input,
    output:
        f"{CDIR}/rotation/smoothness/{{model}}/{{optimizer}}/seed{{seed}}/theta{{theta}}/shard{{shard}}.csv",
    log:
        "logs/cifar/rotation/smoothness/{model}/{optimizer}/seed{seed}/theta{theta}/shard{shard}.log",
    benchmark:
        "benchmarks/cifar/rotation/smoothness/{model}/{optimizer}/seed{seed}/theta{theta}/shard{shard}.tsv"
    conda:
        "../envs/signgeom.yaml"
    threads: PLAN.resources.threads("smoothness")
    resources:
        **PLAN.resources.gpu_job("smoothness"),
    params:
        **PLAN.params(
            SmoothnessSettings,
            **TRAJECTORY_WILDCARDS,
            shard=wildcard("shard", int),
            rotated_coordinates=True,
        ),
        run_dir=lambda wc, input: str(RunDir.of_status(input.run).path),
    shell:
        "OMP_NUM_THREADS={threads:q} python -m signgeom.estimate.smoothness"
        " --settings {params.settings:q} --run-dir {params.run_dir:q}"
        " --data-dir {input.data:q} --step-sizes {input.step_sizes:q} --out {output:q} 2> {log:q}"


rule rotation_table:
    input:
        runs=ROTATION.runs,
        shards=ROTATION.smoothness_shards(),
        step_sizes=ROTATION.selection_tables(),
        plain_smoothness=ROTATION.plain_smoothness_shards(),
    output:
        report(
            ROTATION_TABLE,
            caption="../report/rotation.rst",
            category="Figure 5",
            subcategory="Tables",
        ),
    log:
        "logs/cifar/rotation_table.log",
    benchmark:
        "benchmarks/cifar/rotation_table.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(lr_factors=ROT["lr_factors"], block_size=ROT["block_size"]),
    shell:
        "python -m signgeom.analysis.rotation_table --status {input.runs:q}"
        " --step-sizes {input.step_sizes:q} --lr-factors {params.lr_factors:q}"
        " --block-size {params.block_size:q} --smoothness {input.shards:q}"
        " --plain-smoothness {input.plain_smoothness:q} --out {output:q} 2> {log:q}"


rule rotation_claims:
    input:
        table=ROTATION_TABLE,
        step_sizes=ROTATION.selection_tables(),
    output:
        report(
            ROTATION_CLAIMS,
            caption="../report/rotation_claims.rst",
            category="Figure 5",
            subcategory="Tables",
        ),
    log:
        "logs/cifar/rotation_claims.log",
    benchmark:
        "benchmarks/cifar/rotation_claims.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(ClaimSettings),
    shell:
        "python -m signgeom.analysis.rotation_claims --table {input.table:q}"
        " --step-sizes {input.step_sizes:q} --settings {params.settings:q} --out {output:q}"
        " 2> {log:q}"


rule figure5:
    input:
        ROTATION_TABLE,
    output:
        report(FIGURE5, caption="../report/figure5.rst", category="Figure 5", subcategory="Figure"),
    log:
        "logs/figures/figure5.log",
    benchmark:
        "benchmarks/figures/figure5.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    shell:
        "python -m signgeom.plotting.figure5 --table {input:q} --out {output:q} 2> {log:q}"
