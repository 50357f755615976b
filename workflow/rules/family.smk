"""Sign-family Figure 3 (beyond the paper), built only when a model's step_sizes list an
optimizer beyond sgd and signsgd: along every selected trajectory (each seed), the update's
similarity with signSGD-momentum's at the snapshot epochs -> family table -> figure. R_hat along
those trajectories comes from the Figure 3 rules (cifar_smoothness runs for every optimizer of
step_sizes, with the paper's probes: alpha from the chosen sgd and signsgd step sizes).
"""


rule cifar_similarity:
    input:
        step_sizes=f"{CDIR}/{{model}}/step_sizes.csv",
        run=CIFAR.selected_run,
        data=CIFAR.data_input,
    output:
        f"{CDIR}/similarity/{{model}}/{{optimizer}}/seed{{seed}}.csv",
    log:
        "logs/cifar/similarity/{model}/{optimizer}/seed{seed}.log",
    benchmark:
        "benchmarks/cifar/similarity/{model}/{optimizer}/seed{seed}.tsv"
    conda:
        "../envs/signgeom.yaml"
    threads: PLAN.resources.threads("smoothness")
    resources:
        **PLAN.resources.gpu_job("smoothness"),
    params:
        **PLAN.params(
            warmup_steps=SIMILARITY["warmup_steps"],
            architecture=CIFAR.network,
            batch_size=CIFAR.batch_size,
            momentum=C["momentum"],
            bn_mode=SMOOTH["bn_mode"],
            train_limit=none_flag(C["data"]["train_limit"]),
            device=C["device"],
        ),
        run_dir=lambda wc, input: str(RunDir.of_status(input.run).path),
    shell:
        "OMP_NUM_THREADS={threads:q} python -m signgeom.estimate.similarity --model {wildcards.model:q}"
        " --architecture {params.architecture:q} --run-dir {params.run_dir:q}"
        " --warmup-steps {params.warmup_steps:q}"
        " --batch-size {params.batch_size:q} --momentum {params.momentum:q}"
        " --bn-mode {params.bn_mode:q} --train-limit {params.train_limit:q}"
        " --data-dir {input.data:q} --device {params.device:q} --out {output:q} 2> {log:q}"


rule family_table:
    input:
        metrics=rules.cifar_tables.output.metrics,
        similarity=SIMILARITY_TABLES,
    output:
        report(
            f"{CDIR}/family.csv",
            caption="../report/family.rst",
            category="Figure 3",
            subcategory="Tables",
        ),
    log:
        "logs/cifar/family_table.log",
    benchmark:
        "benchmarks/cifar/family_table.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(models=FAMILY_MODELS),
    shell:
        "python -m signgeom.analysis.family --metrics {input.metrics:q}"
        " --similarity {input.similarity:q} --models {params.models:q} --out {output:q}"
        " 2> {log:q}"


rule family_claims:
    input:
        metrics=rules.cifar_tables.output.metrics,
        smoothness=rules.cifar_tables.output.smoothness,
        step_sizes=rules.cifar_tables.output.step_sizes,
        similarity=SIMILARITY_TABLES,
    output:
        report(
            FAMILY_CLAIMS,
            caption="../report/family_claims.rst",
            category="Figure 3",
            subcategory="Tables",
        ),
    log:
        "logs/cifar/family_claims.log",
    benchmark:
        "benchmarks/cifar/family_claims.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    params:
        **PLAN.params(models=FAMILY_MODELS, claims=ClaimSettings),
    shell:
        "python -m signgeom.analysis.family_claims --metrics {input.metrics:q}"
        " --smoothness {input.smoothness:q} --similarity {input.similarity:q}"
        " --step-sizes {input.step_sizes:q} --models {params.models:q}"
        " --settings {params.claims:q} --out {output:q} 2> {log:q}"


rule figure3_family:
    input:
        rules.family_table.output,
    output:
        report(
            FIGURE3_FAMILY,
            caption="../report/figure3_family.rst",
            category="Figure 3",
            subcategory="Figure",
        ),
    log:
        "logs/figures/figure3_family.log",
    benchmark:
        "benchmarks/figures/figure3_family.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    shell:
        "python -m signgeom.plotting.figure3_family --family {input:q} --out {output:q}"
        " 2> {log:q}"
