using System.Globalization;
using k8s;
using k8s.Models;
using Nexus.Api.V1Alpha1;

namespace Nexus.Operator.Specs;

/// <summary>
/// Where the operator's steps publish their outputs, under <see cref="OperatorSettings.ArtifactRoot"/>:
/// <code>
/// {root}/{namespace}/experts/{name}/{uid8}-g{generation}/run                    train run (checkpoints/, metrics.jsonl, model/)
/// {root}/{namespace}/experts/{name}/{uid8}-g{generation}/model                  imported checkpoint
/// {root}/{namespace}/experts/{name}/{uid8}-g{generation}/embedding.json         domain embedding
/// {root}/{namespace}/models/{name}/{uid8}/r{revision}/b-{build}/upcycled        upcycled MoE
/// {root}/{namespace}/models/{name}/{uid8}/r{revision}/b-{build}/finetune        finetune run; its model/ is the revision's model
/// {root}/{namespace}/models/{name}/{uid8}/r{revision}/b-{build}/evaluation.json evaluation report (plots beside it)
/// {root}/{namespace}/models/{name}/{uid8}/r{revision}/{extension}-{uid8}/       an Extension's surgeries, finetune run
///                                                                               (model/ is the revision's model) and report
/// </code>
/// Every location holds the owner's uid prefix: a resource deleted and re-created under the same name is a new uid,
/// so it never resumes from or reuses the artifacts of its namesake (a stale run's checkpoints, a half-built
/// revision). An Extension adds its own uid for the same reason: a deleted Extension's half-done work under a
/// revision number that was never recorded is not picked up by the next Extension given that number. The Expert's
/// generation keeps a retrained expert from resuming the previous spec's run. A revision number is reused until a build
/// of it is recorded, so each build writes under its build id (<see cref="ModelBuild"/>, a hash of its inputs): an
/// attempt that failed, or whose inputs changed (a fixed spec, a retrained expert), is never read as another attempt's,
/// and a retry with the same inputs resumes its own. Pruning a revision from the history removes its whole folder
/// (every build and Extension under it); deleting the model removes its uid's folder.
/// Artifacts never nest inside one another (docs/storage.md: a reader finds an artifact by its longest published
/// prefix).
/// </summary>
public sealed class ArtifactPaths
{
    /// <summary>Characters of the owner's uid kept in its locations (the first group of a UUID).</summary>
    public const int UidPrefixLength = 8;

    public ArtifactPaths(string artifactRoot)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(artifactRoot);
        Root = artifactRoot.TrimEnd('/');
    }

    public ArtifactPaths(OperatorSettings settings) : this(settings.ArtifactRoot)
    {
    }

    public string Root { get; }

    /// <summary>The folder of one generation of an Expert.</summary>
    public string ExpertFolder(Expert expert) =>
        $"{Root}/{Namespace(expert)}/experts/{expert.Metadata.Name}/{UidPrefix(expert)}-g{Generation(expert)}";

    /// <summary><c>nexus train --out</c>: the run folder, published at every checkpoint so a rescheduled Job resumes.</summary>
    public string ExpertRun(Expert expert) => $"{ExpertFolder(expert)}/run";

    /// <summary><c>nexus import --out</c>: the imported dense checkpoint.</summary>
    public string ExpertImport(Expert expert) => $"{ExpertFolder(expert)}/model";

    /// <summary>The expert's dense checkpoint: the train run's <c>model/</c>, or the imported one.</summary>
    public string ExpertCheckpoint(Expert expert) =>
        expert.Spec.Training is not null ? RunModel(ExpertRun(expert)) : ExpertImport(expert);

    /// <summary><c>nexus embed --out</c>: the domain-embedding file.</summary>
    public string ExpertEmbedding(Expert expert) => $"{ExpertFolder(expert)}/embedding.json";

    /// <summary>Every artifact of a NexusModel (of its uid): removed when the model is deleted.</summary>
    public string ModelFolder(NexusModel model) => $"{Root}/{Namespace(model)}/models/{model.Metadata.Name}/{UidPrefix(model)}";

    /// <summary>The folder of one revision of a NexusModel: every build of it and every Extension producing it.</summary>
    public string RevisionFolder(NexusModel model, int revision)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(revision, 1);
        return $"{ModelFolder(model)}/r{revision.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>The folder of one build of a revision by upcycle and finetune.</summary>
    public string BuildFolder(NexusModel model, ModelBuild build) => $"{RevisionFolder(model, build.Revision)}/b-{build.Id}";

    /// <summary><c>nexus upcycle --out</c>.</summary>
    public string Upcycled(NexusModel model, ModelBuild build) => $"{BuildFolder(model, build)}/upcycled";

    /// <summary><c>nexus finetune --out</c>: the run folder.</summary>
    public string FinetuneRun(NexusModel model, ModelBuild build) => $"{BuildFolder(model, build)}/finetune";

    /// <summary>The model of a revision built by upcycle and finetune.</summary>
    public string RevisionModel(NexusModel model, ModelBuild build) => RunModel(FinetuneRun(model, build));

    /// <summary><c>nexus evaluate --out</c> of a revision built by upcycle and finetune.</summary>
    public string EvaluationReport(NexusModel model, ModelBuild build) => $"{BuildFolder(model, build)}/evaluation.json";

    /// <summary><c>nexus evaluate --plots</c>: routing heat maps, an artifact of their own so the report stays one file.</summary>
    public string EvaluationPlots(NexusModel model, ModelBuild build) => $"{BuildFolder(model, build)}/evaluation-plots";

    /// <summary>The folder of the revision an Extension produces.</summary>
    public string ExtensionFolder(Extension extension, NexusModel model, int toRevision)
    {
        if (extension.Metadata.NamespaceProperty != model.Metadata.NamespaceProperty)
        {
            throw new ArgumentException(
                $"Extension {extension.Metadata.Name} is in namespace {extension.Metadata.NamespaceProperty}, its model in {model.Metadata.NamespaceProperty}.");
        }

        return $"{RevisionFolder(model, toRevision)}/{extension.Metadata.Name}-{UidPrefix(extension)}";
    }

    /// <summary><c>--out</c> of an Extension's surgery number <paramref name="index"/> (from 1): the model after adding
    /// or removing one expert.</summary>
    public string ExtensionSurgery(Extension extension, NexusModel model, int toRevision, int index, StepKind step, string domain)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(index, 1);
        return $"{ExtensionFolder(extension, model, toRevision)}/{index.ToString(CultureInfo.InvariantCulture)}-{step.CommandName()}-{domain}";
    }

    /// <summary><c>--finetune-out</c> of an Extension's last surgery: the run folder.</summary>
    public string ExtensionFinetuneRun(Extension extension, NexusModel model, int toRevision) =>
        $"{ExtensionFolder(extension, model, toRevision)}/finetune";

    /// <summary>The model of the revision an Extension produces.</summary>
    public string ExtensionModel(Extension extension, NexusModel model, int toRevision) =>
        RunModel(ExtensionFinetuneRun(extension, model, toRevision));

    public string ExtensionEvaluationReport(Extension extension, NexusModel model, int toRevision) =>
        $"{ExtensionFolder(extension, model, toRevision)}/evaluation.json";

    public string ExtensionEvaluationPlots(Extension extension, NexusModel model, int toRevision) =>
        $"{ExtensionFolder(extension, model, toRevision)}/evaluation-plots";

    /// <summary>The final model inside a train or finetune run folder.</summary>
    public static string RunModel(string runUri) => $"{runUri}/model";

    private static string Namespace(IKubernetesObject<V1ObjectMeta> owner) =>
        owner.Metadata?.NamespaceProperty is { Length: > 0 } name
            ? name
            : throw new ArgumentException($"{owner.Kind} {owner.Metadata?.Name} has no namespace: read it from the API server first.");

    private static string UidPrefix(IKubernetesObject<V1ObjectMeta> owner) =>
        owner.Metadata?.Uid is { Length: >= UidPrefixLength } uid
            ? uid[..UidPrefixLength].ToLowerInvariant()
            : throw new ArgumentException($"{owner.Kind} {owner.Metadata?.Name} has no uid: read it from the API server first.");

    private static string Generation(Expert expert) =>
        expert.Metadata.Generation is { } generation and > 0
            ? generation.ToString(CultureInfo.InvariantCulture)
            : throw new ArgumentException($"Expert {expert.Metadata.Name} has no metadata.generation: read it from the API server first.");
}
