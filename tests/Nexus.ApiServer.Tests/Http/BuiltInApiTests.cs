using System.Net;
using k8s;
using k8s.LeaderElection;
using k8s.LeaderElection.ResourceLock;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Http;

public sealed class BuiltInApiTests : ServerTest
{
    [Fact]
    public async Task Discovery_lists_the_built_in_groups_and_resources()
    {
        var core = await Client.CoreV1.GetAPIResourcesAsync();
        var apps = await Client.AppsV1.GetAPIResourcesAsync();
        var groups = await Client.Apis.GetAPIVersionsAsync();
        var version = await Client.Version.GetCodeAsync();

        Assert.Contains(core.Resources, r => r.Name == "configmaps" && r.Namespaced && r.Kind == "ConfigMap");
        Assert.Contains(core.Resources, r => r.Name == "namespaces" && !r.Namespaced);
        Assert.Contains(core.Resources, r => r.Name == "pods/status");
        Assert.DoesNotContain(core.Resources, r => r.Name == "configmaps/status");
        Assert.Contains(apps.Resources, r => r.Name == "deployments/status");
        Assert.Equal(
            ["apiextensions.k8s.io", "apps", "batch", "coordination.k8s.io", "events.k8s.io"],
            groups.Groups.Select(g => g.Name));
        Assert.Equal("1", version.Major);
    }

    [Fact]
    public async Task An_unknown_resource_path_is_404()
    {
        var (code, status) = await RefusedAsync(() => Client.CustomObjects.ListNamespacedCustomObjectAsync("nexus.moe", "v1alpha1", Ns, "experts"));

        Assert.Equal(HttpStatusCode.NotFound, code);
        Assert.Equal("the server could not find the requested resource", status.Message);
    }

    [Fact]
    public async Task Status_of_a_type_without_a_status_subresource_is_404()
    {
        await CreateConfigMapAsync("cfg");
        using var http = new HttpClient { BaseAddress = Server.BaseUri };

        var response = await http.GetAsync($"api/v1/namespaces/{Ns}/configmaps/cfg/status");
        var status = KubernetesJson.Deserialize<V1Status>(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("NotFound", status.Reason);
    }

    [Fact]
    public async Task Events_of_both_APIs_can_be_recorded_and_selected()
    {
        var involved = new V1ObjectReference { Kind = "Expert", Name = "coder", NamespaceProperty = Ns, ApiVersion = "nexus.moe/v1alpha1" };
        await Client.CoreV1.CreateNamespacedEventAsync(
            new Corev1Event
            {
                Metadata = new V1ObjectMeta { GenerateName = "coder." },
                InvolvedObject = involved,
                Reason = "TrainingStarted",
                Message = "Job train-coder created",
                Type = "Normal",
            },
            Ns);
        await Client.EventsV1.CreateNamespacedEventAsync(
            new Eventsv1Event
            {
                Metadata = new V1ObjectMeta { GenerateName = "coder." },
                Regarding = involved,
                Reason = "TrainingFailed",
                Note = "OOMKilled",
                Type = "Warning",
                Action = "Train",
                ReportingController = "nexus.moe/operator",
                ReportingInstance = "operator-0",
                EventTime = DateTime.UtcNow,
            },
            Ns);

        var core = await Client.CoreV1.ListNamespacedEventAsync(Ns, fieldSelector: "involvedObject.name=coder,reason=TrainingStarted");
        var modern = await Client.EventsV1.ListNamespacedEventAsync(Ns, fieldSelector: "regarding.name=coder");

        Assert.Equal("Job train-coder created", Assert.Single(core.Items).Message);
        Assert.Equal("OOMKilled", Assert.Single(modern.Items).Note);
    }

    [Fact]
    public async Task Secrets_fold_stringData_into_data()
    {
        var secret = await Client.CoreV1.CreateNamespacedSecretAsync(
            new V1Secret { Metadata = new V1ObjectMeta { Name = "s3" }, StringData = new Dictionary<string, string> { ["key"] = "secret" } }, Ns);

        Assert.Equal("Opaque", secret.Type);
        Assert.Null(secret.StringData);
        Assert.Equal("secret", System.Text.Encoding.UTF8.GetString(secret.Data["key"]));
    }

    [Fact]
    public async Task The_client_leader_election_takes_a_lease()
    {
        var leaseLock = new LeaseLock(Client, Ns, "nexus-operator", "operator-0");
        using var elector = new LeaderElector(new LeaderElectionConfig(leaseLock)
        {
            LeaseDuration = TimeSpan.FromSeconds(2),
            RenewDeadline = TimeSpan.FromSeconds(1),
            RetryPeriod = TimeSpan.FromMilliseconds(100),
        });
        var leading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        elector.OnStartedLeading += () => leading.TrySetResult();
        using var stop = new CancellationTokenSource();

        var running = elector.RunUntilLeadershipLostAsync(stop.Token);
        await leading.Task.WaitAsync(TimeSpan.FromSeconds(5));
        var lease = await Client.CoordinationV1.ReadNamespacedLeaseAsync("nexus-operator", Ns);

        Assert.Equal("operator-0", lease.Spec.HolderIdentity);
        Assert.True(elector.IsLeader());
        await stop.CancelAsync();
        try
        {
            await running.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (OperationCanceledException)
        {
            // Cancellation is how the election loop stops.
        }
    }
}
