"""Figure 3: CIFAR-10 data -> one training job per (model, optimizer, lr, selection seed) ->
step-size selection (a Snakemake checkpoint) -> the selected trajectories on every seed ->
smoothness estimates along them, sharded over epochs (and again with each probe option of
cifar.smoothness.robustness_probe_steps) -> tables -> figure and claims; the probe-length
sensitivity along the first seed's selected trajectories.

Training jobs checkpoint every epoch in their run directory (not a declared output), so a
retried or requeued job resumes instead of restarting from epoch 0.
"""


wildcard_constraints:
    model=one_of(C["models"]),
    optimizer="[a-z0-9_]+",
    lr=r"[0-9.e+-]+",
    seed=r"\d+",
    run_id=r"[0-9a-f]+",
    shard=r"\d+",
    probe_step=CIFAR.probe_option_regex(),


rule cifar_data:
    output:
        update(directory(CIFAR_BATCHES)),
    log:
        "logs/cifar/data.log",
    benchmark:
        "benchmarks/cifar/data.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    # local_dir as configured ("none": unset); signgeom.tasks.cifar.data resolves a relative one
    # against the checkout, so params (rerun triggers) do not depend on where the checkout is.
    params:
        **PLAN.params(source=C["data"]["source"], local_dir=none_flag(C["data"]["local_dir"])),
        dest=lambda wc, output: os.path.dirname(output[0]),
    shell:
        "python -m signgeom.tasks.cifar.data --dest {params.dest:q} --source {params.source:q}"
        " --local-dir {params.local_dir:q} 2> {log:q}"


rule charlm_data:
    output:
        CHARLM_CORPUS,
    log:
        "logs/charlm/data.log",
    benchmark:
        "benchmarks/charlm/data.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    # cifar.data.corpus as configured: signgeom.tasks.charlm.corpus reads a relative one from
    # the checkout, so params (rerun triggers) do not depend on where the checkout is.
    params:
        **PLAN.params(corpus=C["data"]["corpus"]),
    shell:
        "python -m signgeom.tasks.charlm.corpus --source {params.corpus:q} --dest {output:q}"
        " 2> {log:q}"


rule cifar_train:
    input:
        CIFAR.data_input,
    output:
        CIFAR.status_pattern(),
    log:
        f"logs/cifar/train/{run_key_pattern()}.log",
    benchmark:
        f"benchmarks/cifar/train/{run_key_pattern()}.tsv"
    conda:
        "../envs/signgeom.yaml"
    threads: PLAN.resources.threads("train")
    resources:
        **PLAN.resources.gpu_job("train"),
    # One argument, the JSON of every training setting (signgeom.training.run_settings): a changed
    # value changes it, so the job reruns (and resumes from its checkpoint).
    params:
        **PLAN.params(CIFAR.train_settings, **RUN_WILDCARDS),
        out_dir=lambda wc, output: str(RunDir.of_status(output[0]).path),
    shell:
        "OMP_NUM_THREADS={threads:q} python -m signgeom.training.train"
        " --settings {params.settings:q} --batches-dir {input:q}"
        " --expected-run-id {wildcards.run_id:q} --out-dir {params.out_dir:q} 2>> {log:q}"


checkpoint cifar_select:
    input:
        lambda wc: CIFAR.model_runs(wc.model),
    output:
        f"{CDIR}/{{model}}/step_sizes.csv",
    log:
        "logs/cifar/select_{model}.log",
    benchmark:
        "benchmarks/cifar/select_{model}.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(epoch=CIFAR.selection_epoch),
    shell:
        "python -m signgeom.analysis.selection --status {input:q} --epoch {params.epoch:q}"
        " --out {output:q} 2> {log:q}"


rule cifar_smoothness:
    input:
        step_sizes=f"{CDIR}/{{model}}/step_sizes.csv",
        run=CIFAR.selected_run,
        data=CIFAR.data_input,
    output:
        f"{CDIR}/smoothness/{{model}}/{{optimizer}}/seed{{seed}}/shard{{shard}}.csv",
    log:
        "logs/cifar/smoothness/{model}/{optimizer}/seed{seed}/shard{shard}.log",
    benchmark:
        "benchmarks/cifar/smoothness/{model}/{optimizer}/seed{seed}/shard{shard}.tsv"
    conda:
        "../envs/signgeom.yaml"
    threads: PLAN.resources.threads("smoothness")
    resources:
        **PLAN.resources.gpu_job("smoothness"),
    # One argument, the JSON of every smoothness setting (signgeom.estimate.estimate_settings):
    # a changed value changes it, so the job reruns.
    params:
        **PLAN.params(SmoothnessSettings, **TRAJECTORY_WILDCARDS, shard=wildcard("shard", int)),
        run_dir=lambda wc, input: str(RunDir.of_status(input.run).path),
    shell:
        "OMP_NUM_THREADS={threads:q} python -m signgeom.estimate.smoothness"
        " --settings {params.settings:q} --run-dir {params.run_dir:q}"
        " --data-dir {input.data:q} --step-sizes {input.step_sizes:q} --out {output:q} 2> {log:q}"


# The same estimates with each probe option of cifar.smoothness.robustness_probe_steps, one path
# level below the headline shards (whose paths and settings stay as they are).
use rule cifar_smoothness as cifar_smoothness_probe with:
    output:
        f"{CDIR}/smoothness/{{model}}/{{optimizer}}/seed{{seed}}/probe-{{probe_step}}/shard{{shard}}.csv",
    log:
        "logs/cifar/smoothness/{model}/{optimizer}/seed{seed}/probe-{probe_step}/shard{shard}.log",
    benchmark:
        "benchmarks/cifar/smoothness/{model}/{optimizer}/seed{seed}/probe-{probe_step}/shard{shard}.tsv"
    params:
        **PLAN.params(
            SmoothnessSettings,
            **TRAJECTORY_WILDCARDS,
            shard=wildcard("shard", int),
            probe_step=wildcard("probe_step"),
        ),
        run_dir=lambda wc, input: str(RunDir.of_status(input.run).path),


rule cifar_tables:
    input:
        step_sizes=CIFAR.selection_tables(),
        shards=CIFAR.smoothness_shards(),
        probe_shards=CIFAR.robustness_shards(),
        runs=CIFAR.grid_runs(),
        selected=CIFAR.selected_runs,
    output:
        step_sizes=report(
            f"{CDIR}/step_sizes.csv",
            caption="../report/step_sizes.rst",
            category="Figure 3",
            subcategory="Tables",
        ),
        smoothness=report(
            f"{CDIR}/smoothness.csv",
            caption="../report/smoothness.rst",
            category="Figure 3",
            subcategory="Tables",
        ),
        metrics=report(
            f"{CDIR}/metrics.csv",
            caption="../report/metrics.rst",
            category="Figure 3",
            subcategory="Tables",
        ),
    log:
        "logs/cifar/tables.log",
    benchmark:
        "benchmarks/cifar/tables.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    shell:
        "python -m signgeom.analysis.tables --step-sizes {input.step_sizes:q}"
        " --shards {input.shards:q} {input.probe_shards:q}"
        " --status {input.runs:q} {input.selected:q}"
        " --out-step-sizes {output.step_sizes:q} --out-smoothness {output.smoothness:q}"
        " --out-metrics {output.metrics:q} 2> {log:q}"


rule figure3:
    input:
        step_sizes=rules.cifar_tables.output.step_sizes,
        smoothness=rules.cifar_tables.output.smoothness,
        metrics=rules.cifar_tables.output.metrics,
    output:
        report(FIGURE3, caption="../report/figure3.rst", category="Figure 3", subcategory="Figure"),
    log:
        "logs/figures/figure3.log",
    benchmark:
        "benchmarks/figures/figure3.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(level=CLAIMS["level"]),
    shell:
        "python -m signgeom.plotting.figure3 --step-sizes {input.step_sizes:q}"
        " --smoothness {input.smoothness:q} --metrics {input.metrics:q} --level {params.level:q}"
        " --out {output:q} 2> {log:q}"


rule cifar_claims:
    input:
        smoothness=rules.cifar_tables.output.smoothness,
        metrics=rules.cifar_tables.output.metrics,
        step_sizes=rules.cifar_tables.output.step_sizes,
    output:
        report(
            CLAIMS_TABLE, caption="../report/claims.rst", category="Figure 3", subcategory="Tables"
        ),
    log:
        "logs/cifar/claims.log",
    benchmark:
        "benchmarks/cifar/claims.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(ClaimSettings),
    shell:
        "python -m signgeom.analysis.figure3_claims --metrics {input.metrics:q}"
        " --smoothness {input.smoothness:q} --step-sizes {input.step_sizes:q}"
        " --settings {params.settings:q} --out {output:q} 2> {log:q}"


rule cifar_sensitivity:
    input:
        step_sizes=f"{CDIR}/{{model}}/step_sizes.csv",
        run=CIFAR.selected_run,
        data=CIFAR.data_input,
    output:
        f"{CDIR}/sensitivity/{{model}}/{{optimizer}}.csv",
    log:
        "logs/cifar/sensitivity/{model}/{optimizer}.log",
    benchmark:
        "benchmarks/cifar/sensitivity/{model}/{optimizer}.tsv"
    conda:
        "../envs/signgeom.yaml"
    threads: PLAN.resources.threads("smoothness")
    resources:
        **PLAN.resources.gpu_job("smoothness"),
    params:
        **PLAN.params(SensitivitySettings, **TRAJECTORY_WILDCARDS),
        run_dir=lambda wc, input: str(RunDir.of_status(input.run).path),
    shell:
        "OMP_NUM_THREADS={threads:q} python -m signgeom.estimate.sensitivity"
        " --settings {params.settings:q} --run-dir {params.run_dir:q}"
        " --data-dir {input.data:q} --step-sizes {input.step_sizes:q} --out {output:q} 2> {log:q}"


rule cifar_sensitivity_table:
    input:
        CIFAR.sensitivity_tables(),
    output:
        report(
            SENSITIVITY_TABLE,
            caption="../report/sensitivity.rst",
            category="Figure 3",
            subcategory="Tables",
        ),
    log:
        "logs/cifar/sensitivity_table.log",
    benchmark:
        "benchmarks/cifar/sensitivity_table.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    shell:
        "python -m signgeom.io --out {output:q} {input:q} 2> {log:q}"


rule figure_sensitivity:
    input:
        SENSITIVITY_TABLE,
    output:
        report(
            FIGURE_SENSITIVITY,
            caption="../report/sensitivity_figure.rst",
            category="Figure 3",
            subcategory="Figure",
        ),
    log:
        "logs/figures/sensitivity.log",
    benchmark:
        "benchmarks/figures/sensitivity.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    shell:
        "python -m signgeom.plotting.sensitivity --sensitivity {input:q} --out {output:q}"
        " 2> {log:q}"
