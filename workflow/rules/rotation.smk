"""Beyond the paper (Figure 5): training in rotated coordinates. Rotated runs (the plain ones at
theta = 0 come from cifar_train) -> smoothness estimates in each run's rotated coordinates along
the selected-step trajectories (theta = 0: Figure 3's) -> results/cifar/rotation.csv ->
figures/figure5.{pdf,png}.
"""


wildcard_constraints:
    theta=r"[0-9.e+-]+",


rule cifar_train_rotated:
    input:
        CIFAR_BATCHES,
    output:
        str(run_dir("{model}", "{optimizer}", "lr{lr}_seed{seed}_theta{theta}_{run_id}").status),
    log:
        "logs/cifar/train/{model}/{optimizer}/lr{lr}_seed{seed}_theta{theta}_{run_id}.log",
    benchmark:
        "benchmarks/cifar/train/{model}/{optimizer}/lr{lr}_seed{seed}_theta{theta}_{run_id}.tsv"
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
        block_size=ROT["block_size"],
        out_dir=lambda wc, output: str(RunDir.of_status(output[0]).path),
    shell:
        "OMP_NUM_THREADS={threads:q} python -m signgeom.cifar.train --model {wildcards.model:q}"
        " --optimizer {wildcards.optimizer:q} --lr {wildcards.lr:q} --seed {wildcards.seed:q}"
        " --rotation-theta {wildcards.theta:q} --rotation-block-size {params.block_size:q}"
        " --epochs {params.epochs:q} --batch-size {params.batch_size:q}"
        " --momentum {params.momentum:q} --divergence-factor {params.divergence_factor:q}"
        " --batches-dir {input:q} --train-limit {params.train_limit:q}"
        " --test-limit {params.test_limit:q} --device {params.device:q}"
        " --snapshot-stride {params.stride:q} --snapshot-schedule {params.schedule:q}"
        " --augmentation {params.augmentation:q}"
        " --precision {params.precision:q} --deterministic {params.deterministic:q}"
        " --channels-last {params.channels_last:q} --compile {params.compile:q}"
        " --train-eval-every {params.eval_every:q} --train-eval-subset {params.eval_subset:q}"
        " --expected-run-id {wildcards.run_id:q}"
        " --out-dir {params.out_dir:q} 2>> {log:q}"


rule cifar_smoothness_rotated:
    input:
        step_sizes=f"{CDIR}/{{model}}/step_sizes.csv",
        run=rotated_selected_run,
        data=CIFAR_BATCHES,
    output:
        f"{CDIR}/rotation/smoothness/{{model}}/{{optimizer}}/theta{{theta}}/shard{{shard}}.csv",
    log:
        "logs/cifar/rotation/smoothness/{model}/{optimizer}/theta{theta}/shard{shard}.log",
    benchmark:
        "benchmarks/cifar/rotation/smoothness/{model}/{optimizer}/theta{theta}/shard{shard}.tsv"
    conda:
        "../envs/signgeom.yaml"
    threads: config["resources"]["smoothness"]["cpus"]
    resources:
        **job_resources("smoothness"),
    params:
        run_dir=lambda wc, input: str(RunDir.of_status(input.run).path),
        gammas=SMOOTH["gammas"],
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
        "OMP_NUM_THREADS={threads:q} python -m signgeom.cifar.smoothness"
        " --model {wildcards.model:q} --run-dir {params.run_dir:q}"
        " --trajectory-optimizer {wildcards.optimizer:q} --rotated-coordinates true"
        " --step-sizes {input.step_sizes:q} --gammas {params.gammas:q}"
        " --reduction {params.reduction:q} --bn-mode {params.bn_mode:q}"
        " --n-examples {params.n_examples:q} --chunk-size {params.chunk_size:q}"
        " --data-dir {input.data:q} --device {params.device:q}"
        " --precision {params.precision:q} --channels-last {params.channels_last:q}"
        " --probe-step {params.probe_step:q} --momentum {params.momentum:q}"
        " --probe-radius {params.probe_radius:q} --batched {params.batched:q}"
        " --shard {wildcards.shard:q} --n-shards {params.shards:q} --out {output:q} 2> {log:q}"


rule rotation_table:
    input:
        runs=rotation_runs,
        shards=rotated_smoothness_shards(),
        step_sizes=rules.cifar_tables.output.step_sizes,
        plain_smoothness=rules.cifar_tables.output.smoothness,
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
        lr_factors=ROT["lr_factors"],
        block_size=ROT["block_size"],
    shell:
        "python -m signgeom.cifar.rotation_table --status {input.runs:q}"
        " --step-sizes {input.step_sizes:q} --lr-factors {params.lr_factors:q}"
        " --block-size {params.block_size:q} --smoothness {input.shards:q}"
        " --plain-smoothness {input.plain_smoothness:q} --out {output:q} 2> {log:q}"


rule rotation_claims:
    input:
        ROTATION_TABLE,
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
        **with_settings(
            level=CLAIMS["level"],
            similar=CLAIMS["similar_factor"],
            invariant=CLAIMS["invariant_factor"],
        ),
    shell:
        "python -m signgeom.cifar.rotation_claims --table {input:q} --level {params.level:q}"
        " --similar-factor {params.similar:q} --invariant-factor {params.invariant:q}"
        " --out {output:q} 2> {log:q}"


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
