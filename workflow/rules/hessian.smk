"""Beyond the paper: the premises of Eq. 13 (Hessian outliers, diagonal concentration) measured
on the network Hessian along the selected Figure 3 trajectories, on the same snapshots, the same
fixed data (the first cifar.hessian.n_examples of the smoothness subset, in its chunks), the
same batch-norm mode, precision and layout -> tables (joined with R_hat) -> figures/premises.{pdf,png};
and per parameter block of the task's partition, on every seed: lambda_max, lambda_bar and
rho_diag of each diagonal block -> one table and the blocks' spread per snapshot.
"""

HESS = C["hessian"]
FIGURE_PREMISES = ["figures/premises.pdf", "figures/premises.png"]
# Targets of `rule all` and provenance: none when cifar.hessian.models is empty.
HESSIAN_FIGURES = FIGURE_PREMISES if HESS["models"] else []
# The per-block tables (every seed) of cifar.hessian.models and their spread per snapshot.
HESSIAN_PARAM_BLOCKS = f"{CDIR}/hessian_param_blocks.csv"
HESSIAN_HETEROGENEITY = f"{CDIR}/hessian_heterogeneity.csv"


rule cifar_hessian:
    input:
        run=CIFAR.selected_run,
        data=CIFAR.data_input,
    output:
        epochs=f"{CDIR}/hessian/{{model}}/{{optimizer}}/epochs.csv",
        blocks=f"{CDIR}/hessian/{{model}}/{{optimizer}}/blocks.csv",
        density=f"{CDIR}/hessian/{{model}}/{{optimizer}}/density.csv",
    log:
        "logs/cifar/hessian/{model}/{optimizer}.log",
    benchmark:
        "benchmarks/cifar/hessian/{model}/{optimizer}.tsv"
    conda:
        "../envs/signgeom.yaml"
    threads: PLAN.resources.threads("smoothness")
    resources:
        **PLAN.resources.gpu_job("smoothness"),
    params:
        **PLAN.params(HessianSettings, **TRAJECTORY_WILDCARDS),
        run_dir=lambda wc, input: str(RunDir.of_status(input.run).path),
    shell:
        "OMP_NUM_THREADS={threads:q} python -m signgeom.estimate.hessian"
        " --settings {params.settings:q} --run-dir {params.run_dir:q} --data-dir {input.data:q}"
        " --out {output.epochs:q} --out-blocks {output.blocks:q}"
        " --out-density {output.density:q} 2> {log:q}"


rule cifar_hessian_param_blocks:
    input:
        run=CIFAR.selected_run,
        data=CIFAR.data_input,
    output:
        f"{CDIR}/hessian/{{model}}/{{optimizer}}/seed{{seed}}/param_blocks.csv",
    log:
        "logs/cifar/hessian/{model}/{optimizer}/seed{seed}/param_blocks.log",
    benchmark:
        "benchmarks/cifar/hessian/{model}/{optimizer}/seed{seed}/param_blocks.tsv"
    conda:
        "../envs/signgeom.yaml"
    threads: PLAN.resources.threads("smoothness")
    resources:
        **PLAN.resources.gpu_job("smoothness"),
    params:
        **PLAN.params(HessianSettings, **TRAJECTORY_WILDCARDS),
        run_dir=lambda wc, input: str(RunDir.of_status(input.run).path),
    shell:
        "OMP_NUM_THREADS={threads:q} python -m signgeom.estimate.hessian_param_blocks"
        " --settings {params.settings:q} --run-dir {params.run_dir:q} --data-dir {input.data:q}"
        " --out {output:q} 2> {log:q}"


rule cifar_hessian_heterogeneity:
    input:
        CIFAR.hessian_block_tables(),
    output:
        blocks=HESSIAN_PARAM_BLOCKS,
        heterogeneity=HESSIAN_HETEROGENEITY,
    log:
        "logs/cifar/hessian_heterogeneity.log",
    benchmark:
        "benchmarks/cifar/hessian_heterogeneity.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    shell:
        "python -m signgeom.analysis.hessian_heterogeneity --blocks {input:q}"
        " --out-blocks {output.blocks:q} --out {output.heterogeneity:q} 2> {log:q}"


rule cifar_hessian_tables:
    input:
        epochs=CIFAR.hessian_tables("epochs"),
        blocks=CIFAR.hessian_tables("blocks"),
        density=CIFAR.hessian_tables("density"),
        smoothness=rules.cifar_tables.output.smoothness,
    output:
        hessian=report(
            f"{CDIR}/hessian.csv",
            caption="../report/hessian.rst",
            category="Premises",
            subcategory="Tables",
        ),
        blocks=f"{CDIR}/hessian_blocks.csv",
        density=f"{CDIR}/hessian_density.csv",
    log:
        "logs/cifar/hessian_tables.log",
    benchmark:
        "benchmarks/cifar/hessian_tables.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    shell:
        "python -m signgeom.analysis.hessian_tables --epochs {input.epochs:q}"
        " --blocks {input.blocks:q} --density {input.density:q}"
        " --smoothness {input.smoothness:q} --out {output.hessian:q}"
        " --out-blocks {output.blocks:q} --out-density {output.density:q} 2> {log:q}"


rule figure_premises:
    input:
        hessian=rules.cifar_hessian_tables.output.hessian,
        density=rules.cifar_hessian_tables.output.density,
    output:
        report(
            FIGURE_PREMISES,
            caption="../report/premises.rst",
            category="Premises",
            subcategory="Figure",
        ),
    log:
        "logs/figures/premises.log",
    benchmark:
        "benchmarks/figures/premises.tsv"
    localrule: True
    conda:
        "../envs/signgeom.yaml"
    shell:
        "python -m signgeom.plotting.premises --hessian {input.hessian:q}"
        " --density {input.density:q} --out {output:q} 2> {log:q}"
