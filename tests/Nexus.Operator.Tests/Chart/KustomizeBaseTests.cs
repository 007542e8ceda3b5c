using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Nexus.Operator.Tests.Chart;

/// <summary>config/default, the second install path, as <c>kubectl kustomize</c> renders it (offline).</summary>
public sealed class KustomizeBaseTests
{
    [KubectlFact]
    public async Task ConfigDefault_Renders_TheOperatorWithTheChartsRulesAndCrds()
    {
        var start = new ProcessStartInfo(Kubectl.Path!, ["kustomize", Path.Combine(RepositoryRoot.Path, "config", "default")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"kubectl kustomize config/default failed: {await stderr}");

        var objects = ChartFiles.Documents(await stdout);
        string KindName(JsonObject o) => $"{o["kind"]} {o["metadata"]!["name"]}";
        Assert.Equal(
            [
                "ClusterRole nexus-operator", "ClusterRoleBinding nexus-operator", "CustomResourceDefinition experts.nexus.moe",
                "CustomResourceDefinition extensions.nexus.moe", "CustomResourceDefinition nexusmodels.nexus.moe", "Deployment nexus-operator",
                "Namespace nexus-system", "Role nexus-operator-leader-election", "RoleBinding nexus-operator-leader-election",
                "Service nexus-operator-metrics", "ServiceAccount nexus-operator", "ServiceAccount nexus-worker",
            ],
            objects.Select(KindName).Order(StringComparer.Ordinal));

        JsonObject Single(string kind) => objects.Single(o => o["kind"]!.GetValue<string>() == kind);
        var clusterScoped = new HashSet<string> { "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace" };
        Assert.All(objects.Where(o => !clusterScoped.Contains(o["kind"]!.GetValue<string>())),
            o => Assert.Equal("nexus-system", o["metadata"]!["namespace"]?.GetValue<string>()));
        Assert.All(new[] { Single("ClusterRoleBinding"), Single("RoleBinding") },
            binding => Assert.Equal(("nexus-operator", "nexus-system"),
                (binding["subjects"]![0]!["name"]!.GetValue<string>(), binding["subjects"]![0]!["namespace"]!.GetValue<string>())));

        Assert.Equal(ChartFiles.Grants(ChartFiles.Rules("operator-rules.yaml")), ChartFiles.Grants(Single("ClusterRole")));
        Assert.Equal(ChartFiles.Grants(ChartFiles.Rules("leader-election-rules.yaml")), ChartFiles.Grants(Single("Role")));

        foreach (var crd in objects.Where(o => o["kind"]!.GetValue<string>() == "CustomResourceDefinition"))
        {
            var file = Path.Combine(ChartFiles.Crds, $"nexus.moe_{crd["spec"]!["names"]!["plural"]}.yaml");
            var source = ChartFiles.Documents(File.ReadAllText(file)).Single();
            crd["metadata"]!["labels"]!.AsObject().Remove("app.kubernetes.io/part-of");
            crd["metadata"]!.AsObject().Remove("labels");
            Assert.True(JsonNode.DeepEquals(source, crd), $"the rendered {crd["metadata"]!["name"]} differs from {file}");
        }

        var pod = Single("Deployment")["spec"]!["template"]!["spec"]!;
        var container = pod["containers"]![0]!;
        Assert.Equal("nexus-operator", pod["serviceAccountName"]!.GetValue<string>());
        Assert.Contains("--leader-elect=true", container["args"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Equal(("/healthz", "/readyz"), (container["livenessProbe"]!["httpGet"]!["path"]!.GetValue<string>(), container["readinessProbe"]!["httpGet"]!["path"]!.GetValue<string>()));
        Assert.True(container["securityContext"]!["readOnlyRootFilesystem"]!.GetValue<bool>());
        Assert.Equal("RuntimeDefault", pod["securityContext"]!["seccompProfile"]!["type"]!.GetValue<string>());
    }
}
