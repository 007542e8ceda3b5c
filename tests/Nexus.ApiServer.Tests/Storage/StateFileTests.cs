using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Nexus.ApiServer.Tests.Support;

namespace Nexus.ApiServer.Tests.Storage;

/// <summary>A server started again on the same <see cref="LocalApiServerOptions.StatePath"/> resumes where the last one
/// stopped (what a re-run of <c>nexus run</c> relies on).</summary>
public sealed class StateFileTests : IDisposable
{
    private const string Ns = "test";
    private readonly string directory = Path.Combine(Path.GetTempPath(), "nexus-state-" + Guid.NewGuid().ToString("N"));

    private string StatePath => Path.Combine(directory, "state.json");

    private LocalApiServerOptions Options => new() { StatePath = StatePath, StateSaveDelay = TimeSpan.FromMilliseconds(50) };

    public void Dispose()
    {
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Objects_their_status_and_deletions_survive_a_restart_and_new_writes_continue_the_revisions()
    {
        string uid;
        string version;
        long lastRevision;
        await using (var first = await LocalApiServer.StartAsync(Options))
        {
            using var client = first.CreateClient();
            first.InstallCrd(ExpertCrd.Yaml);
            await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Ns } });
            var kept = await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("kept"), Ns);
            (uid, version) = (kept.Metadata.Uid, kept.Metadata.ResourceVersion);
            await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("gone"), Ns);
            await client.CoreV1.DeleteNamespacedConfigMapAsync("gone", Ns);
            await client.CustomObjects.CreateNamespacedCustomObjectAsync(ExpertCrd.Expert("coder"), ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural);
            var withStatus = ExpertCrd.Expert("coder", status: new() { ["phase"] = "Ready" });
            var current = CustomObjects.AsJson(await client.CustomObjects.GetNamespacedCustomObjectAsync(ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder"));
            ((Dictionary<string, object>)withStatus["metadata"])["resourceVersion"] = current.Get("metadata.resourceVersion")!;
            await client.CustomObjects.ReplaceNamespacedCustomObjectStatusAsync(withStatus, ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder");
            lastRevision = first.ResourceVersion;
        }

        await using var second = await LocalApiServer.StartAsync(Options);
        using var again = second.CreateClient();

        var restored = await again.CoreV1.ReadNamespacedConfigMapAsync("kept", Ns);
        Assert.Equal((uid, version), (restored.Metadata.Uid, restored.Metadata.ResourceVersion));
        Assert.Equal("value", restored.Data["key"]);
        var missing = await Assert.ThrowsAsync<HttpOperationException>(() => again.CoreV1.ReadNamespacedConfigMapAsync("gone", Ns));
        Assert.Equal(HttpStatusCode.NotFound, missing.Response.StatusCode);
        var expert = CustomObjects.AsJson(await again.CustomObjects.GetNamespacedCustomObjectAsync(ExpertCrd.Group, ExpertCrd.Version, Ns, ExpertCrd.Plural, "coder"));
        Assert.Equal("Ready", expert.Get("status.phase"));
        Assert.Contains((await again.CoreV1.ListNamespaceAsync()).Items, n => n.Metadata.Name == "default");
        Assert.Equal(lastRevision, second.ResourceVersion);
        var next = await again.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("new"), Ns);
        Assert.True(long.Parse(next.Metadata.ResourceVersion, System.Globalization.CultureInfo.InvariantCulture) > lastRevision);
    }

    [Fact]
    public async Task A_change_is_saved_while_the_server_runs_by_replacing_the_file_whole()
    {
        await using var server = await LocalApiServer.StartAsync(Options);
        using var client = server.CreateClient();
        await client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = Ns } });

        var created = await client.CoreV1.CreateNamespacedConfigMapAsync(ConfigMap("saved"), Ns);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!(File.Exists(StatePath) && (await File.ReadAllTextAsync(StatePath)).Contains(created.Metadata.Uid, StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{StatePath} never held the ConfigMap {created.Metadata.Uid}");
            await Task.Delay(20);
        }

        Assert.Equal(["state.json"], Directory.GetFiles(directory).Select(Path.GetFileName));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(StatePath)); // it holds Secrets
        }
    }

    [Fact]
    public async Task A_state_file_that_is_not_valid_JSON_is_refused_naming_the_file_and_the_fix()
    {
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(StatePath, "{ not json");

        var refused = await Assert.ThrowsAsync<InvalidDataException>(() => LocalApiServer.StartAsync(Options));

        Assert.Contains(StatePath, refused.Message);
        Assert.Contains("delete it", refused.Message);
    }

    private static V1ConfigMap ConfigMap(string name) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Data = new Dictionary<string, string> { ["key"] = "value" },
    };
}
