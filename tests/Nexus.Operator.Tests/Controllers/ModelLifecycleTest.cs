using System.Text.Json;
using k8s;
using k8s.Models;
using Nexus.Api;
using Nexus.Api.V1Alpha1;
using Nexus.Operator.Specs;
using Nexus.Operator.Tests.Support;

namespace Nexus.Operator.Tests.Controllers;

/// <summary>
/// What the NexusModel and Extension tests share on top of <see cref="LifecycleTest"/>: Experts given a Ready status
/// through /status (the Expert controller does not run), one NexusModel selecting them by label, and the test playing
/// the worker — marking a Job succeeded first publishes a small fake artifact at its <c>nexus.moe/output</c> (and an
/// extension surgery's <c>--out</c>), as the step would.
/// </summary>
public abstract class ModelLifecycleTest : LifecycleTest
{
    protected const string Model = "demo";

    protected string Seed => $"file://{Root}/seed/model";

    /// <summary>What <c>nexus evaluate</c> reports for the domains <paramref name="domains"/>.</summary>
    protected static string Report(params string[] domains) => JsonSerializer.Serialize(new
    {
        model = "m",
        model_type = "moe",
        experts = domains,
        domains = domains.Select((domain, i) => new
        {
            domain,
            loss = 2.0 + i / 10.0,
            perplexity = 10.0 + i,
            tokens = 4096,
            routing = new { own_expert = 0.9 - i / 10.0 },
        }),
    });

    protected Task<Expert> CreateExpertAsync(string domain, string? seed = null) => Client.CustomObjects.CreateNamespacedCustomObjectAsync<Expert>(
        new Expert
        {
            Metadata = new V1ObjectMeta { Name = domain, NamespaceProperty = Ns, Labels = new Dictionary<string, string> { ["nexus.moe/mix"] = Model } },
            Spec = new ExpertSpec
            {
                Domain = domain,
                Seed = new ArtifactSource { Uri = seed ?? Seed },
                Data = new ArtifactSource { Uri = $"file://{Root}/data/{domain}" },
                Training = new ExpertTraining { Steps = 100 },
            },
        },
        Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName);

    protected async Task CreateReadyExpertAsync(string domain)
    {
        await CreateExpertAsync(domain);
        await MarkExpertReadyAsync(domain);
    }

    /// <summary>What the Expert controller writes once both artifacts are in the store.</summary>
    protected async Task MarkExpertReadyAsync(string domain)
    {
        var folder = $"file://{Root}/artifacts/{Ns}/experts/{domain}";
        var status = new ExpertStatus
        {
            Phase = ExpertPhase.Ready,
            ObservedGeneration = 1,
            Artifacts = new ExpertArtifacts
            {
                Checkpoint = new ArtifactReference { Uri = $"{folder}/run/model", Sha256 = Sha(domain) },
                Embedding = new ArtifactReference { Uri = $"{folder}/embedding.json", Sha256 = Sha(domain + "-embedding") },
            },
        };
        Conditions.MarkReady(status, Reasons.Succeeded, "Checkpoint and embedding are in the artifact store.", 1, DateTimeOffset.UtcNow);
        await Client.CustomObjects.PatchNamespacedCustomObjectStatusAsync(
            new V1Patch(KubernetesJson.Serialize(new { status }), V1Patch.PatchType.MergePatch),
            Expert.KubeGroup, Expert.KubeApiVersion, Ns, Expert.KubePluralName, domain);
    }

    protected static string Sha(string text) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

    protected Task<NexusModel> CreateModelAsync(ExtensionPolicy policy = ExtensionPolicy.Automatic, Action<NexusModelSpec>? configure = null)
    {
        var spec = new NexusModelSpec
        {
            Seed = new ArtifactSource { Uri = Seed },
            Experts = new ExpertSelection { Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["nexus.moe/mix"] = Model } } },
            Finetune = new FinetuneSpec { Steps = 50 },
            Extension = new ExtensionPolicySpec { Policy = policy },
        };
        configure?.Invoke(spec);
        return Client.CustomObjects.CreateNamespacedCustomObjectAsync<NexusModel>(
            new NexusModel { Metadata = new V1ObjectMeta { Name = Model, NamespaceProperty = Ns }, Spec = spec },
            NexusModel.KubeGroup, NexusModel.KubeApiVersion, Ns, NexusModel.KubePluralName);
    }

    protected Task<NexusModel> GetModelAsync() =>
        Client.CustomObjects.GetNamespacedCustomObjectAsync<NexusModel>(NexusModel.KubeGroup, NexusModel.KubeApiVersion, Ns, NexusModel.KubePluralName, Model);

    protected async Task<NexusModel> WaitForAsync(Func<NexusModel, bool> condition, string because)
    {
        NexusModel? last = null;
        await Eventually.WaitUntilAsync(async () => condition(last = await GetModelAsync()),
            () => Task.FromResult($"the model is {because} (last status: {JsonSerializer.Serialize(last?.Status)})"), TimeSpan.FromSeconds(10));
        return last!;
    }

    protected async Task<V1Deployment?> FindDeploymentAsync() =>
        (await Client.AppsV1.ListNamespacedDeploymentAsync(Ns)).Items.FirstOrDefault(d => d.Metadata.Name == Model);

    /// <summary>Upcycle, finetune and evaluate of <paramref name="revision"/>, each published and succeeded in turn.</summary>
    protected async Task BuildAsync(int revision, params string[] domains)
    {
        foreach (var step in new[] { "upcycle", "finetune", "evaluate" })
        {
            var job = $"{Model}-{step}-r{revision}";
            await WaitForJobAsync(job);
            await SucceedAsync(job, domains);
        }
    }

    /// <summary>The model built and served at revision 1 from <paramref name="domains"/>, each a Ready Expert.</summary>
    protected async Task ServeRevision1Async(ExtensionPolicy policy, params string[] domains)
    {
        foreach (var domain in domains)
        {
            await CreateReadyExpertAsync(domain);
        }

        await CreateModelAsync(policy);
        await BuildAsync(1, domains);
        await Until(async () => await FindDeploymentAsync() is not null, "the Deployment exists");
        Server.Deployments.MakeReady(Ns, Model);
        await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Ready, "Ready at revision 1");
    }

    /// <summary>Publishes what the Job's step would at its nexus.moe/output (and a surgery's --out), then marks the Job
    /// succeeded; returns the SHA-256 of the step's weights (or report).</summary>
    protected async Task<string> SucceedAsync(string jobName, params string[] domains)
    {
        var job = await Client.BatchV1.ReadNamespacedJobAsync(jobName, Ns);
        var output = job.Metadata.Annotations[Annotations.Output];
        var arguments = job.Spec.Template.Spec.Containers[0].Args;
        var component = job.Metadata.Labels[Labels.Component];
        if (component is "extend" or "remove")
        {
            var extended = arguments[arguments.IndexOf("--out") + 1];
            await PublishAsync(extended, "model.safetensors", ("model.safetensors", $"extended by {jobName}"), ("config.json", "{}"));
        }

        var sha = component switch
        {
            "evaluate" => await PublishAsync(output, "evaluation.json", ("evaluation.json", Report(domains))),
            "embed" => await PublishAsync(output, "embedding.json", ("embedding.json", $"{{\"format\":\"nexus.domain-embedding/v1\",\"by\":\"{jobName}\"}}")),
            _ when component is "finetune" or "train" || arguments.Contains("--finetune-out") => await PublishAsync(output, "model/model.safetensors",
                ("model/model.safetensors", $"weights of {jobName}"), ("model/config.json", "{}"), ("metrics.jsonl", "{}")),
            "extend" or "remove" => Sha($"extended by {jobName}"),
            _ => await PublishAsync(output, "model.safetensors", ("model.safetensors", $"weights of {jobName}"), ("config.json", "{}")),
        };
        Server.Jobs.MarkSucceeded(Ns, jobName);
        return sha;
    }
}
