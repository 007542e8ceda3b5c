using System.Globalization;
using Nexus.Api.V1Alpha1;

namespace Nexus.Operator.Specs;

/// <summary>
/// The <c>nexus</c> command line of each step, as a pure function of the custom resource and the inputs the reconciler
/// resolved. Every budget number is passed explicitly, so a step never depends on the CLI's defaults, and every output
/// is a location from <see cref="ArtifactPaths"/>. Training steps pass <c>--resume</c>: a rescheduled or preempted Job
/// continues from the last checkpoint its run published.
/// </summary>
/// <remarks>
/// Arguments the spec makes impossible to build throw <see cref="ArgumentException"/> naming the field; a reconciler
/// reports them as <see cref="Reasons.InvalidSpec"/> rather than retrying.
/// </remarks>
public static class StepCommands
{
    /// <summary><c>nexus train</c>: the Expert's dense training from the seed model.</summary>
    public static StepInvocation Train(Expert expert, ArtifactPaths paths)
    {
        var training = expert.Spec.Training
            ?? throw new ArgumentException($"Expert {expert.Metadata.Name} has no spec.training; it is imported.");
        var run = paths.ExpertRun(expert);
        var arguments = new List<string>
        {
            StepKind.Train.CommandName(),
            "--init", expert.Spec.Seed.Uri,
            "--data", expert.Spec.Data.Uri,
            "--out", run,
        };
        AddBudget(arguments, training);
        arguments.Add("--resume");
        return new StepInvocation(StepKind.Train, JobNames.ForExpert(expert, StepKind.Train), arguments, run);
    }

    /// <summary><c>nexus import</c>: copies the Expert's dense checkpoint after checking it has the seed's architecture.</summary>
    public static StepInvocation Import(Expert expert, ArtifactPaths paths)
    {
        var source = expert.Spec.Import
            ?? throw new ArgumentException($"Expert {expert.Metadata.Name} has no spec.import; it is trained.");
        var output = paths.ExpertImport(expert);
        string[] arguments =
        [
            StepKind.Import.CommandName(),
            "--model", source.Uri,
            "--seed-model", expert.Spec.Seed.Uri,
            "--out", output,
        ];
        return new StepInvocation(StepKind.Import, JobNames.ForExpert(expert, StepKind.Import), arguments, output);
    }

    /// <summary>
    /// <c>nexus embed</c>: the seed model's mean final hidden state over spec.embedding.sampleTokens tokens of the
    /// training data, or the given spec.embedding.vectorUri. An imported expert has no training data, so it needs the
    /// vector.
    /// </summary>
    public static StepInvocation Embed(Expert expert, ArtifactPaths paths)
    {
        var output = paths.ExpertEmbedding(expert);
        var arguments = new List<string> { StepKind.Embed.CommandName(), "--name", expert.Spec.Domain };
        if (expert.Spec.Embedding.VectorUri is { } vector)
        {
            arguments.AddRange(["--vector", vector]);
        }
        else
        {
            arguments.AddRange(
            [
                "--model", expert.Spec.Seed.Uri,
                "--data", expert.Spec.Data.Uri,
                "--sample-tokens", Number(expert.Spec.Embedding.SampleTokens ?? EmbeddingSpec.DefaultSampleTokens),
            ]);
        }

        arguments.AddRange(["--out", output]);
        return new StepInvocation(StepKind.Embed, JobNames.ForExpert(expert, StepKind.Embed), arguments, output);
    }

    /// <summary><c>nexus upcycle</c>: the seed and the experts (in router order) merged into the revision's MoE.</summary>
    public static StepInvocation Upcycle(NexusModel model, ModelBuild build, IReadOnlyList<ExpertInput> experts, ArtifactPaths paths)
    {
        CheckExperts(experts, "upcycle");
        var router = model.Spec.Router;
        var output = paths.Upcycled(model, build);
        var arguments = new List<string> { StepKind.Upcycle.CommandName(), "--seed-model", model.Spec.Seed.Uri };
        foreach (var expert in experts)
        {
            arguments.AddRange(["--expert", $"{expert.Domain}={Require(expert.CheckpointUri, expert, "checkpoint")}"]);
        }

        if (router.Type == RouterType.Nexus)
        {
            foreach (var expert in experts)
            {
                arguments.AddRange(["--embedding", Require(expert.EmbeddingUri, expert, "embedding")]);
            }
        }

        arguments.AddRange(
        [
            "--router", RouterName(router.Type),
            "--top-k", Number(router.TopK),
            "--aux-loss-coef", Number(router.AuxLossCoefficient),
        ]);
        if (router.Type == RouterType.Nexus && router.ProjectionSize is { } projectionSize)
        {
            arguments.AddRange(["--projection-size", Number(projectionSize)]);
        }

        arguments.AddRange(["--out", output]);
        return new StepInvocation(StepKind.Upcycle, JobNames.ForModel(model, StepKind.Upcycle, build.Revision), arguments, output) { Build = build };
    }

    /// <summary><c>nexus finetune</c> of the upcycled MoE on the experts' domains, weighted by spec.finetune.mix.</summary>
    public static StepInvocation Finetune(NexusModel model, ModelBuild build, IReadOnlyList<ExpertInput> experts, ArtifactPaths paths)
    {
        CheckExperts(experts, "finetune");
        var domains = DomainsWithData(experts, "The finetune");
        var finetune = model.Spec.Finetune;
        var run = paths.FinetuneRun(model, build);
        var arguments = new List<string> { StepKind.Finetune.CommandName(), "--model", paths.Upcycled(model, build) };
        AddDomains(arguments, domains);
        arguments.AddRange(["--mix", Mix(finetune.Mix, domains)]);
        AddBudget(arguments, finetune);
        arguments.AddRange(["--out", run, "--resume"]);
        return new StepInvocation(StepKind.Finetune, JobNames.ForModel(model, StepKind.Finetune, build.Revision), arguments, run) { Build = build };
    }

    /// <summary><c>nexus evaluate</c> of a revision built by upcycle and finetune, on every domain with data.</summary>
    public static StepInvocation Evaluate(NexusModel model, ModelBuild build, IReadOnlyList<ExpertInput> experts, ArtifactPaths paths) =>
        Evaluation(model, paths.RevisionModel(model, build), experts,
            paths.EvaluationReport(model, build), paths.EvaluationPlots(model, build),
            JobNames.ForModel(model, StepKind.Evaluate, build.Revision)) with { Build = build };

    /// <summary>
    /// The surgeries of an Extension that turn the model's current revision (<paramref name="currentModelUri"/>, its
    /// experts <paramref name="current"/> in router order) into <paramref name="toRevision"/>.
    /// </summary>
    /// <remarks>
    /// <c>nexus extend</c> and <c>remove</c> take one expert each, so each change is its own Job, chained through
    /// their outputs. Additions come first (in spec.add order, appended at the end of the router), then removals, so
    /// a removal never has to lower top-k below what the added experts make room for. The last surgery runs the
    /// finetune (the Extension's budget, else the model's spec.extension.finetune) on every remaining domain with data.
    /// Its mix gives the added domains spec.extension.newDomainShare of the sequences, the rest spread uniformly over
    /// the others. The CLI's <c>extension:NAME</c> mix can only say 0.5 for one new domain, so any other share, or
    /// several new domains, is written as explicit weights (NAME=WEIGHT,…). A change that only removes finetunes
    /// uniformly.
    /// </remarks>
    public static ExtensionPlan Extension(
        Extension extension,
        NexusModel model,
        int toRevision,
        string currentModelUri,
        IReadOnlyList<ExpertInput> current,
        IReadOnlyList<ExpertInput> added,
        ArtifactPaths paths)
    {
        ArgumentException.ThrowIfNullOrEmpty(currentModelUri);
        if (extension.Spec.Model != model.Metadata.Name)
        {
            throw new ArgumentException($"Extension {extension.Metadata.Name} extends {extension.Spec.Model}, not {model.Metadata.Name}.");
        }

        var additions = (extension.Spec.Add ?? []).Select(name =>
            added.FirstOrDefault(expert => expert.Name == name)
            ?? throw new ArgumentException($"Extension {extension.Metadata.Name} adds expert {name}, which was not resolved.")).ToList();
        var removals = (extension.Spec.Remove ?? []).Select(name =>
            current.FirstOrDefault(expert => expert.Name == name)
            ?? throw new ArgumentException(
                $"Extension {extension.Metadata.Name} removes expert {name}, which is not in the model's current revision.")).ToList();
        if (additions.Count + removals.Count == 0)
        {
            throw new ArgumentException($"Extension {extension.Metadata.Name} neither adds nor removes an expert.");
        }

        foreach (var expert in additions.Where(expert => current.Any(existing => existing.Name == expert.Name)))
        {
            throw new ArgumentException($"Extension {extension.Metadata.Name} adds expert {expert.Name}, which the model already has.");
        }

        var result = current.Concat(additions).Where(expert => !removals.Contains(expert)).ToList();
        if (result.Count == 0)
        {
            throw new ArgumentException($"Extension {extension.Metadata.Name} would remove every expert of {model.Metadata.Name}.");
        }

        CheckExperts(current.Concat(additions).ToList(), "extension");
        var nexusRouter = model.Spec.Router.Type == RouterType.Nexus;
        var budget = extension.Spec.Finetune ?? model.Spec.Extension.Finetune;
        var domains = DomainsWithData(result, "The finetune after the extension");
        var finetuneRun = paths.ExtensionFinetuneRun(extension, model, toRevision);

        var surgeries = new List<StepInvocation>();
        var modelUri = currentModelUri;
        var experts = current.Count;
        var changes = additions.Select(expert => (Step: StepKind.Extend, Expert: expert))
            .Concat(removals.Select(expert => (Step: StepKind.Remove, Expert: expert)))
            .ToList();
        foreach (var (step, expert) in changes)
        {
            var last = surgeries.Count == changes.Count - 1;
            var output = paths.ExtensionSurgery(extension, model, toRevision, surgeries.Count + 1, step, expert.Domain);
            var arguments = new List<string> { step.CommandName(), "--model", modelUri };
            if (step == StepKind.Extend)
            {
                arguments.AddRange(["--expert", $"{expert.Domain}={Require(expert.CheckpointUri, expert, "checkpoint")}"]);
                if (nexusRouter)
                {
                    arguments.AddRange(["--embedding", Require(expert.EmbeddingUri, expert, "embedding")]);
                }

                experts++;
            }
            else
            {
                experts--;
                arguments.AddRange(["--expert", expert.Domain, "--top-k", Number(Math.Min(model.Spec.Router.TopK, experts))]);
            }

            arguments.AddRange(["--out", output]);
            if (last)
            {
                AddDomains(arguments, domains);
                arguments.AddRange(["--mix", ExtensionMix(domains, additions, model.Spec.Extension.NewDomainShare)]);
                AddBudget(arguments, budget);
                arguments.AddRange(["--finetune-out", finetuneRun, "--resume"]);
            }

            surgeries.Add(new StepInvocation(step, JobNames.ForExtension(extension, step, toRevision, expert.Domain), arguments,
                last ? finetuneRun : output));
            modelUri = output;
        }

        return new ExtensionPlan(surgeries, ArtifactPaths.RunModel(finetuneRun), result);
    }

    /// <summary><c>nexus evaluate</c> of the model an Extension produced (<see cref="ExtensionPlan"/>).</summary>
    public static StepInvocation EvaluateExtension(Extension extension, NexusModel model, int toRevision, ExtensionPlan plan, ArtifactPaths paths) =>
        Evaluation(model, plan.ModelUri, plan.Experts,
            paths.ExtensionEvaluationReport(extension, model, toRevision), paths.ExtensionEvaluationPlots(extension, model, toRevision),
            JobNames.ForExtension(extension, StepKind.Evaluate, toRevision));

    /// <summary>
    /// Every revision is evaluated at the model's finetune sequence length, so perplexities of revisions built by
    /// upcycling and by extension compare.
    /// </summary>
    private static StepInvocation Evaluation(
        NexusModel model, string modelUri, IReadOnlyList<ExpertInput> experts, string report, string plots, string jobName)
    {
        var arguments = new List<string> { StepKind.Evaluate.CommandName(), "--model", modelUri };
        AddDomains(arguments, DomainsWithData(experts, "The evaluation"));
        arguments.AddRange(["--seq-len", Number(model.Spec.Finetune.SequenceLength), "--out", report, "--plots", plots]);
        return new StepInvocation(StepKind.Evaluate, jobName, arguments, report);
    }

    /// <summary>The optimizer budget every training step shares, each number in the CLI's unit (steps, sequences,
    /// tokens, learning rate per step).</summary>
    private static void AddBudget(List<string> arguments, TrainingBudget budget) =>
        arguments.AddRange(
        [
            "--steps", Number(budget.Steps),
            "--batch-size", Number(budget.BatchSize),
            "--seq-len", Number(budget.SequenceLength),
            "--lr", Number(budget.LearningRate),
            "--warmup", Number(budget.WarmupSteps),
            "--checkpoint-every", Number(budget.CheckpointEverySteps),
            "--seed", Number(budget.RandomSeed),
        ]);

    private static void AddDomains(List<string> arguments, IReadOnlyList<ExpertInput> domains)
    {
        foreach (var expert in domains)
        {
            arguments.AddRange(["--domain", $"{expert.Domain}={expert.DataUri}"]);
        }
    }

    /// <summary>--mix of the upcycling finetune. An explicit mix gives a weight of 0 to domains it does not list (the
    /// CLI wants one for each).</summary>
    private static string Mix(DataMix mix, IReadOnlyList<ExpertInput> domains)
    {
        switch (mix.Type)
        {
            case MixType.Proportional:
                return "proportional";
            case MixType.Uniform:
                return "uniform";
            case MixType.Explicit:
                var weights = mix.Weights ?? [];
                var unknown = weights.FirstOrDefault(weight => domains.All(domain => domain.Domain != weight.Domain));
                if (unknown is not null)
                {
                    throw new ArgumentException(
                        $"spec.finetune.mix.weights names domain {unknown.Domain}, which no selected expert with training data has " +
                        $"(they are {string.Join(", ", domains.Select(domain => domain.Domain))}).");
                }

                return string.Join(",", domains.Select(domain =>
                    $"{domain.Domain}={Number(weights.FirstOrDefault(weight => weight.Domain == domain.Domain)?.Weight ?? 0)}"));
            default:
                throw new ArgumentOutOfRangeException(nameof(mix), mix.Type, "Unknown mix type.");
        }
    }

    /// <summary>--mix of an Extension's finetune: <paramref name="newDomainShare"/> for the added domains together,
    /// the rest uniformly over the others.</summary>
    private static string ExtensionMix(IReadOnlyList<ExpertInput> domains, IReadOnlyList<ExpertInput> additions, double newDomainShare)
    {
        var added = domains.Where(domain => additions.Contains(domain)).ToList();
        var others = domains.Count - added.Count;
        if (added.Count == 0 || others == 0)
        {
            return "uniform";
        }

        if (added.Count == 1 && newDomainShare == 0.5)
        {
            return $"extension:{added[0].Domain}";
        }

        return string.Join(",", domains.Select(domain =>
            $"{domain.Domain}={Number(added.Contains(domain) ? newDomainShare / added.Count : (1 - newDomainShare) / others, mixWeight: true)}"));
    }

    private static IReadOnlyList<ExpertInput> DomainsWithData(IReadOnlyList<ExpertInput> experts, string step)
    {
        var domains = experts.Where(expert => !string.IsNullOrEmpty(expert.DataUri)).ToList();
        return domains.Count > 0
            ? domains
            : throw new ArgumentException($"{step} needs training data, and none of its experts has any (imported experts have none).");
    }

    /// <summary>Router order is the caller's; names and domains must be unique, or routing reports could not tell
    /// experts apart.</summary>
    private static void CheckExperts(IReadOnlyList<ExpertInput> experts, string step)
    {
        if (experts.Count == 0)
        {
            throw new ArgumentException($"The {step} needs at least one expert.");
        }

        var duplicate = experts.GroupBy(expert => expert.Domain).FirstOrDefault(group => group.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException(
                $"Experts {string.Join(" and ", duplicate.Select(expert => expert.Name))} share the domain {duplicate.Key}.");
        }

        var twice = experts.GroupBy(expert => expert.Name).FirstOrDefault(group => group.Count() > 1);
        if (twice is not null)
        {
            throw new ArgumentException($"Expert {twice.Key} is given twice.");
        }
    }

    private static string Require(string? uri, ExpertInput expert, string artifact) =>
        string.IsNullOrEmpty(uri)
            ? throw new ArgumentException($"Expert {expert.Name} has no {artifact} artifact yet.")
            : uri;

    private static string RouterName(RouterType type) => type switch
    {
        RouterType.Nexus => "nexus",
        RouterType.Linear => "linear",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown router type."),
    };

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Shortest round-trip form; a mix weight is rounded to 6 decimals (the CLI normalises the weights).</summary>
    private static string Number(double value, bool mixWeight = false) =>
        mixWeight
            ? Math.Round(value, 6).ToString("0.######", CultureInfo.InvariantCulture)
            : value.ToString("R", CultureInfo.InvariantCulture);
}
