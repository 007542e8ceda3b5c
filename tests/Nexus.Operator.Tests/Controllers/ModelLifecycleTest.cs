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
/// through /status (the Expert controller does not run), waiting on the model, and building and serving revision 1 with
/// the test playing the worker (<see cref="LifecycleTest.Steps"/>) and the Deployment controller.
/// </summary>
public abstract class ModelLifecycleTest : LifecycleTest
{
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
    protected async Task BuildAsync(int revision)
    {
        foreach (var step in new[] { "upcycle", "finetune", "evaluate" })
        {
            var job = $"{Model}-{step}-r{revision}";
            await WaitForJobAsync(job);
            await Steps.SucceedAsync(job);
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
        await BuildAsync(1);
        await Until(async () => await FindDeploymentAsync() is not null, "the Deployment exists");
        Server.Deployments.MakeReady(Ns, Model);
        await WaitForAsync(m => m.Status?.Phase == NexusModelPhase.Ready, "Ready at revision 1");
    }
}
