"""Figure 3: CIFAR-10 data -> one training job per (model, optimizer, lr, selection seed) ->
step-size selection (a Snakemake checkpoint) -> the selected trajectories on every seed ->
smoothness estimates along them, sharded over epochs -> tables -> figure and claims; the
probe-length sensitivity along the first seed's selected trajectories.

Training jobs checkpoint every epoch in their run directory (not a declared output), so a
retried or requeued job resumes instead of restarting from epoch 0.
"""


wildcard_constraints:
    model="|".join(C["models"]),
    optimizer="[a-z0-9_]+",
    lr=r"[0-9.e+-]+",
    seed=r"\d+",
    run_id=r"[0-9a-f]+",
    shard=r"\d+",


rule cifar_data:
    output:
        directory(CIFAR_BATCHES),
    log:
        "logs/cifar/data.log",
    benchmark:
        "benchmarks/cifar/data.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        dest=lambda wc, output: os.path.dirname(output[0]),
        source=C["data"]["source"],
        # As configured: signgeom.cifar.data resolves a relative local_dir against the
        # repository, so params (rerun triggers) do not depend on where the checkout lives.
        local=(f"--local-dir {C['data']['local_dir']}" if C["data"].get("local_dir") else ""),
    shell:
        "python -m signgeom.cifar.data --dest {params.dest} --source {params.source} {params.local}"
        " 2> {log}"


rule cifar_train:
    input:
        CIFAR_BATCHES,
    output:
        str(run_dir("{model}", "{optimizer}", "lr{lr}_seed{seed}_{run_id}").status),
    log:
        "logs/cifar/train/{model}/{optimizer}/lr{lr}_seed{seed}_{run_id}.log",
    benchmark:
        "benchmarks/cifar/train/{model}/{optimizer}/lr{lr}_seed{seed}_{run_id}.tsv"
    conda:
        "../envs/signgeom.yaml"
    threads: config["resources"]["train"]["cpus"]
    resources:
        **job_resources("train"),
    params:
        epochs=lambda wc: C["models"][wc.model]["epochs"],
        batch_size=C["batch_size"],
        momentum=C["momentum"],
        divergence_factor=C["divergence_factor"],
        train_limit=limit_arg(C["data"]["train_limit"]),
        test_limit=limit_arg(C["data"]["test_limit"]),
        device=C["device"],
        stride=SMOOTH["stride"],
        schedule=schedule_to_text(SMOOTH["schedule"]),
        augmentation=C["augmentation"],
        precision=C["training"]["precision"],
        deterministic=flag(C["training"]["deterministic"]),
        channels_last=flag(C["training"]["channels_last"]),
        compile=flag(C["training"]["compile"]),
        eval_every=C["evaluation"]["train_every"],
        eval_subset=limit_arg(C["evaluation"]["train_subset"]),
        out_dir=lambda wc, output: str(RunDir.of_status(output[0]).path),
    shell:
        "OMP_NUM_THREADS={threads} python -m signgeom.cifar.train --model {wildcards.model}"
        " --optimizer {wildcards.optimizer} --lr {wildcards.lr} --seed {wildcards.seed}"
        " --epochs {params.epochs} --batch-size {params.batch_size}"
        " --momentum {params.momentum} --divergence-factor {params.divergence_factor}"
        " --batches-dir {input} --train-limit {params.train_limit}"
        " --test-limit {params.test_limit} --device {params.device}"
        " --snapshot-stride {params.stride} --snapshot-schedule {params.schedule:q}"
        " --augmentation {params.augmentation}"
        " --precision {params.precision} --deterministic {params.deterministic}"
        " --channels-last {params.channels_last} --compile {params.compile}"
        " --train-eval-every {params.eval_every} --train-eval-subset {params.eval_subset}"
        " --expected-run-id {wildcards.run_id}"
        " --out-dir {params.out_dir} 2>> {log}"


checkpoint cifar_select:
    input:
        lambda wc: model_runs(wc.model),
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
        epoch=lambda wc: C["models"][wc.model]["selection_epoch"],
    shell:
        "python -m signgeom.cifar.selection --status {input} --epoch {params.epoch}"
        " --out {output} 2> {log}"


rule cifar_smoothness:
    input:
        step_sizes=f"{CDIR}/{{model}}/step_sizes.csv",
        run=selected_run,
        data=CIFAR_BATCHES,
    output:
        f"{CDIR}/smoothness/{{model}}/{{optimizer}}/seed{{seed}}/shard{{shard}}.csv",
    log:
        "logs/cifar/smoothness/{model}/{optimizer}/seed{seed}/shard{shard}.log",
    benchmark:
        "benchmarks/cifar/smoothness/{model}/{optimizer}/seed{seed}/shard{shard}.tsv"
    conda:
        "../envs/signgeom.yaml"
    threads: config["resources"]["smoothness"]["cpus"]
    resources:
        **job_resources("smoothness"),
    params:
        run_dir=lambda wc, input: str(RunDir.of_status(input.run).path),
        gammas=" ".join(str(g) for g in SMOOTH["gammas"]),
        reduction=SMOOTH["reduction"],
        bn_mode=SMOOTH["bn_mode"],
        n_examples=limit_arg(ESTIMATION_EXAMPLES),
        chunk_size=SMOOTH["chunk_size"],
        shards=SMOOTH["shards"],
        device=C["device"],
        precision=SMOOTH["precision"],
        channels_last=flag(SMOOTH["channels_last"]),
        probe_step=SMOOTH["probe_step"],
        momentum=C["momentum"],
        probe_radius=limit_arg(SMOOTH["probe_radius"]),
        batched=flag_or_auto(SMOOTH["batched"]),
    shell:
        "OMP_NUM_THREADS={threads} python -m signgeom.cifar.smoothness --model {wildcards.model}"
        " --run-dir {params.run_dir} --trajectory-optimizer {wildcards.optimizer}"
        " --step-sizes {input.step_sizes} --gammas {params.gammas}"
        " --reduction {params.reduction} --bn-mode {params.bn_mode}"
        " --n-examples {params.n_examples} --chunk-size {params.chunk_size}"
        " --data-dir {input.data} --device {params.device} --precision {params.precision}"
        " --channels-last {params.channels_last} --probe-step {params.probe_step:q}"
        " --momentum {params.momentum:q} --probe-radius {params.probe_radius:q}"
        " --batched {params.batched:q}"
        " --shard {wildcards.shard} --n-shards {params.shards} --out {output} 2> {log}"


rule cifar_tables:
    input:
        step_sizes=expand(f"{CDIR}/{{model}}/step_sizes.csv", model=C["models"]),
        shards=[
            f"{CDIR}/smoothness/{model}/{opt}/seed{seed}/shard{shard}.csv"
            for model, spec in C["models"].items()
            for opt in spec["step_sizes"]
            for seed in SEEDS
            for shard in range(SMOOTH["shards"])
        ],
        runs=[status for model in C["models"] for status in model_runs(model)],
        selected=selected_runs,
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
        "python -m signgeom.cifar.tables --step-sizes {input.step_sizes} --shards {input.shards}"
        " --status {input.runs} {input.selected} --out-step-sizes {output.step_sizes}"
        " --out-smoothness {output.smoothness} --out-metrics {output.metrics} 2> {log}"


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
        level=CLAIMS["level"],
    shell:
        "python -m signgeom.plotting.figure3 --step-sizes {input.step_sizes:q}"
        " --smoothness {input.smoothness:q} --metrics {input.metrics:q} --level {params.level}"
        " --out {output:q} 2> {log:q}"


rule cifar_claims:
    input:
        smoothness=rules.cifar_tables.output.smoothness,
        metrics=rules.cifar_tables.output.metrics,
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
        level=CLAIMS["level"],
        early=CLAIMS["early_fraction"],
        similar=CLAIMS["similar_factor"],
    shell:
        "python -m signgeom.cifar.claims --metrics {input.metrics:q}"
        " --smoothness {input.smoothness:q} --level {params.level}"
        " --early-fraction {params.early} --similar-factor {params.similar}"
        " --out {output:q} 2> {log:q}"


rule cifar_sensitivity:
    input:
        step_sizes=f"{CDIR}/{{model}}/step_sizes.csv",
        run=selected_run,
        data=CIFAR_BATCHES,
    output:
        f"{CDIR}/sensitivity/{{model}}/{{optimizer}}.csv",
    log:
        "logs/cifar/sensitivity/{model}/{optimizer}.log",
    benchmark:
        "benchmarks/cifar/sensitivity/{model}/{optimizer}.tsv"
    conda:
        "../envs/signgeom.yaml"
    threads: config["resources"]["smoothness"]["cpus"]
    resources:
        **job_resources("smoothness"),
    params:
        run_dir=lambda wc, input: str(RunDir.of_status(input.run).path),
        n_epochs=SENS["n_epochs"],
        factors=" ".join(str(f) for f in SENS["factors"]),
        gammas=" ".join(str(g) for g in SMOOTH["gammas"]),
        reduction=SMOOTH["reduction"],
        bn_mode=SMOOTH["bn_mode"],
        n_examples=limit_arg(ESTIMATION_EXAMPLES),
        chunk_size=SMOOTH["chunk_size"],
        device=C["device"],
        precision=SMOOTH["precision"],
        channels_last=flag(SMOOTH["channels_last"]),
        probe_step=SMOOTH["probe_step"],
        momentum=C["momentum"],
        probe_radius=limit_arg(SMOOTH["probe_radius"]),
        length_factor=SENS["length_factor"],
    shell:
        "OMP_NUM_THREADS={threads} python -m signgeom.cifar.sensitivity --model {wildcards.model}"
        " --run-dir {params.run_dir:q} --trajectory-optimizer {wildcards.optimizer}"
        " --step-sizes {input.step_sizes:q} --n-epochs {params.n_epochs}"
        " --factors {params.factors} --gammas {params.gammas} --reduction {params.reduction}"
        " --bn-mode {params.bn_mode} --n-examples {params.n_examples}"
        " --chunk-size {params.chunk_size} --data-dir {input.data:q} --device {params.device}"
        " --precision {params.precision} --channels-last {params.channels_last}"
        " --probe-step {params.probe_step} --momentum {params.momentum}"
        " --probe-radius {params.probe_radius} --length-factor {params.length_factor}"
        " --out {output:q} 2> {log:q}"


rule cifar_sensitivity_table:
    input:
        [
            f"{CDIR}/sensitivity/{model}/{opt}.csv"
            for model in SENS["models"]
            for opt in C["models"][model]["step_sizes"]
        ],
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
