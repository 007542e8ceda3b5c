using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Nexus.Api.Validation;
using Nexus.Operator.Hosting;

namespace Nexus.Operator.Tests.Chart;

/// <summary>
/// What can be checked of charts/nexus-operator without Helm: every <c>.Values</c> path a template uses exists, the
/// values validate against values.schema.json (and bad ones are refused naming the path), the Deployment passes every
/// OperatorSettings value, the RBAC rule lists hold no template logic and equal the kustomize base's, and the chart's
/// CRDs are crds/ (gated and kept). RbacCoverageTests checks the rules against what the operator does.
/// </summary>
public sealed partial class HelmChartTests
{
    [Fact]
    public void ChartYaml_IsApiV2_AtVersion010()
    {
        var chart = (JsonObject)YamlToJson.Convert(File.ReadAllText(Path.Combine(ChartFiles.Chart, "Chart.yaml")))!;
        Assert.Equal(("v2", "nexus-operator", "0.1.0", "0.1.0"),
            (chart["apiVersion"]!.GetValue<string>(), chart["name"]!.GetValue<string>(), chart["version"]!.GetValue<string>(), chart["appVersion"]!.GetValue<string>()));
    }

    [Fact]
    public void EveryValuesPathATemplateUses_IsInValuesYaml()
    {
        var values = ChartFiles.Values();
        var used = ChartFiles.Templates()
            .SelectMany(file => ChartFiles.ValuesPaths(File.ReadAllText(file)).Select(path => (File: Path.GetFileName(file), Path: path)))
            .ToList();
        var missing = used.Where(use => !ChartFiles.Exists(values, use.Path)).Select(use => $"{use.File}: .Values.{use.Path}");
        Assert.Empty(missing);
        // The scan sees the templates (not vacuous), the $.Values form inside range, and the settings' values.
        Assert.True(used.Select(use => use.Path).Distinct().Count() >= 50, $"only {used.Count} paths found");
        Assert.Contains(("serviceaccount.yaml", "workerServiceAccount.name"), used);
        Assert.Contains(("deployment.yaml", "operator.servingStartupTimeoutSeconds"), used);
    }

    [Fact]
    public void TheValuesPathScan_FindsBothForms_AndAMissingPath()
    {
        var paths = ChartFiles.ValuesPaths("""{{ .Values.a.b }} {{- range $x := .Values.list }}{{ $.Values.c.d_e }}{{ end }} {{ index .Values "z" }}""");
        Assert.Equal(["a.b", "list", "c.d_e"], paths);
        var values = (JsonObject)JsonNode.Parse("""{"a":{"b":1},"list":[],"c":{}}""")!;
        Assert.Equal([true, true, false], paths.Select(path => ChartFiles.Exists(values, path)));
        Assert.False(ChartFiles.Exists(values, "a.b.c"));
    }

    [Fact]
    public void ValuesYaml_ValidatesAgainstTheSchema()
    {
        Assert.Empty(new JsonSchemaSubset(ChartFiles.Schema()).Validate(ChartFiles.Values()));
    }

    [Theory]
    [InlineData("image.pullPolicy", "\"Sometimes\"", "image.pullPolicy: \"Sometimes\" is not one of")]
    [InlineData("operator.workerImage", "\"nexus worker:1\"", "operator.workerImage: \"nexus worker:1\" does not match")]
    [InlineData("operator.vllmImage", "\"vllm/vllm-openai:\"", "operator.vllmImage: \"vllm/vllm-openai:\" does not match")]
    [InlineData("operator.scratchSizeLimit", "\"lots\"", "operator.scratchSizeLimit: \"lots\" does not match")]
    [InlineData("operator.vllmDtype", "\"fp8\"", "operator.vllmDtype: \"fp8\" is not one of")]
    [InlineData("operator.jobBackoffLimit", "-1", "operator.jobBackoffLimit: -1 is below the minimum 0")]
    [InlineData("operator.servingStartupTimeoutSeconds", "5", "operator.servingStartupTimeoutSeconds: 5 is below the minimum 10")]
    [InlineData("operator.activeDeadlineSeconds", """{"training":60}""", "operator.activeDeadlineSeconds.training: is not a known value")]
    [InlineData("operator.activeDeadlineSeconds", """{"train":"3d"}""", "operator.activeDeadlineSeconds.train: \"3d\" is a string, not integer")]
    [InlineData("replicaCount", "0", "replicaCount: 0 is below the minimum 1")]
    [InlineData("s3.artifactRoot", "\"/tmp/artifacts\"", "s3.artifactRoot: \"/tmp/artifacts\" does not match")]
    [InlineData("s3.endpoint", "\"minio:9000\"", "s3.endpoint: \"minio:9000\" does not match")]
    [InlineData("s3.credentials.secretName", "\"S3_Creds\"", "s3.credentials.secretName: \"S3_Creds\" does not match")]
    [InlineData("metrics.port", "\"8080\"", "metrics.port: \"8080\" is a string, not integer")]
    [InlineData("resources.limits.memory", "\"plenty\"", "resources.limits.memory: \"plenty\" does not match")]
    [InlineData("watchNamespace", "\"ML_Team\"", "watchNamespace: \"ML_Team\" does not match")]
    [InlineData("crds.install", "\"yes\"", "crds.install: \"yes\" is a string, not boolean")]
    [InlineData("metrics.serviceMonitor.enabled", "null", "metrics.serviceMonitor.enabled: null is a null, not boolean")]
    [InlineData("operatr", "{}", "operatr: is not a known value")]
    public void BadValues_AreRefused_NamingThePath(string path, string json, string expected)
    {
        var values = ChartFiles.Values();
        Set(values, path, JsonNode.Parse(json));
        var errors = new JsonSchemaSubset(ChartFiles.Schema()).Validate(values);
        Assert.Contains(errors, error => error.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void AMissingRequiredValue_IsRefused_NamingIt()
    {
        var values = ChartFiles.Values();
        values["s3"]!.AsObject().Remove("artifactRoot");
        Assert.Equal(["s3.artifactRoot: is required (under s3)."], new JsonSchemaSubset(ChartFiles.Schema()).Validate(values));
    }

    [Fact]
    public void TheDeployment_PassesEveryOperatorSetting_AsItsVariable()
    {
        var deployment = File.ReadAllText(Path.Combine(ChartFiles.Chart, "templates", "deployment.yaml"));
        var options = new OperatorSettingsOptions(_ => null);
        var variables = options.All.Select(option => OperatorSettingsOptions.VariableOf(option.Name)).ToList();
        Assert.Equal(15, variables.Count);
        Assert.All(variables, variable => Assert.Contains($"- name: {variable}\n", deployment, StringComparison.Ordinal));
        Assert.Contains("- --leader-elect=true", deployment, StringComparison.Ordinal);
        Assert.Contains("- --lease-namespace={{ .Release.Namespace }}", deployment, StringComparison.Ordinal);
        Assert.Matches(@"path: /healthz\s+port: metrics", deployment);
        Assert.Matches(@"path: /readyz\s+port: metrics", deployment);
    }

    [Fact]
    public void TheDefaultSecurityContexts_AreRestricted()
    {
        var values = ChartFiles.Values();
        var pod = values["podSecurityContext"]!;
        var container = values["securityContext"]!;
        Assert.True(pod["runAsNonRoot"]!.GetValue<bool>());
        Assert.Equal("RuntimeDefault", pod["seccompProfile"]!["type"]!.GetValue<string>());
        Assert.True(container["readOnlyRootFilesystem"]!.GetValue<bool>());
        Assert.False(container["allowPrivilegeEscalation"]!.GetValue<bool>());
        Assert.Equal(["ALL"], container["capabilities"]!["drop"]!.AsArray().Select(c => c!.GetValue<string>()));
    }

    /// <summary>
    /// Without Helm, the static part of each manifest template is checked: a line that is only a template action
    /// (<c>{{- if ... }}</c>, <c>{{- toYaml . | nindent 8 }}</c>) is dropped, an action inside a line becomes a
    /// placeholder, and what is left must be YAML with the expected kinds. It catches indentation and structure
    /// mistakes in the fixed text, not in what the actions produce.
    /// </summary>
    [Theory]
    [MemberData(nameof(ManifestTemplates))]
    public void EveryTemplate_WithItsActionsBlanked_IsWellFormedYaml(string template, string kinds)
    {
        var lines = File.ReadAllLines(Path.Combine(ChartFiles.Chart, "templates", template))
            .Where(line => !WholeLineAction().IsMatch(line))
            .Select(line => Action().Replace(line, "X"));
        var documents = ChartFiles.Documents(string.Join('\n', lines));
        Assert.Equal(kinds.Split(','), documents.Select(document => document["kind"]!.GetValue<string>()));
    }

    /// <summary>Each manifest template and the kinds its skeleton holds (X: a kind the template computes).</summary>
    public static TheoryData<string, string> ManifestTemplates => new()
    {
        { "deployment.yaml", "Deployment" },
        { "rbac.yaml", "X,XBinding,Role,RoleBinding" },
        { "serviceaccount.yaml", "ServiceAccount,ServiceAccount" },
        { "service.yaml", "Service" },
        { "servicemonitor.yaml", "ServiceMonitor" },
        { "podmonitor-serving.yaml", "PodMonitor" },
        { "prometheusrule.yaml", "PrometheusRule" },
        { "poddisruptionbudget.yaml", "PodDisruptionBudget" },
        { "s3-secret.yaml", "Secret" },
        { "crds/nexus.moe_experts.yaml", "CustomResourceDefinition" },
        { "crds/nexus.moe_extensions.yaml", "CustomResourceDefinition" },
        { "crds/nexus.moe_nexusmodels.yaml", "CustomResourceDefinition" },
    };

    [Fact]
    public void EveryManifestTemplate_IsCheckedForWellFormedness()
    {
        var templates = Path.Combine(ChartFiles.Chart, "templates");
        var manifests = ChartFiles.Templates().Where(file => file.EndsWith(".yaml", StringComparison.Ordinal))
            .Select(file => Path.GetRelativePath(templates, file).Replace('\\', '/'));
        Assert.Equal(manifests.Order(StringComparer.Ordinal), ManifestTemplates.Select(row => (string)row[0]).Order(StringComparer.Ordinal));
    }

    /// <summary>The rule lists come from files/ verbatim: nothing in them is computed, so what the tests read is what
    /// Helm renders, for the default values and every other.</summary>
    [Fact]
    public void TheRbacRuleLists_HoldNoTemplateLogic()
    {
        var rbac = File.ReadAllLines(Path.Combine(ChartFiles.Chart, "templates", "rbac.yaml"));
        var ruleLines = rbac.Select((line, index) => (line, index)).Where(x => x.line == "rules:").Select(x => rbac[x.index + 1].Trim()).ToList();
        Assert.Equal(
            ["{{- .Files.Get \"files/operator-rules.yaml\" | nindent 2 }}", "{{- .Files.Get \"files/leader-election-rules.yaml\" | nindent 2 }}"],
            ruleLines);
        foreach (var file in new[] { "operator-rules.yaml", "leader-election-rules.yaml" })
        {
            Assert.DoesNotContain("{{", File.ReadAllText(Path.Combine(ChartFiles.Chart, "files", file)), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TheKustomizeBaseRbac_IsTheChartsRules()
    {
        var role = ChartFiles.Documents(File.ReadAllText(Path.Combine(ChartFiles.Config, "rbac", "role.yaml"))).Single();
        var leaderElection = ChartFiles.Documents(File.ReadAllText(Path.Combine(ChartFiles.Config, "rbac", "leader_election_role.yaml"))).Single();
        Assert.True(JsonNode.DeepEquals(ChartFiles.Rules("operator-rules.yaml"), role["rules"]), "config/rbac/role.yaml's rules differ from the chart's files/operator-rules.yaml");
        Assert.True(JsonNode.DeepEquals(ChartFiles.Rules("leader-election-rules.yaml"), leaderElection["rules"]),
            "config/rbac/leader_election_role.yaml's rules differ from the chart's files/leader-election-rules.yaml");
    }

    /// <summary>The chart's templates/crds/ are crds/ with only the gate and the keep annotation added, and
    /// config/crd/bases/ is crds/ byte for byte; `make crds` (scripts/crd-copies.sh) writes both.</summary>
    [Fact]
    public void TheChartAndKustomizeCrds_AreCrdsFolder()
    {
        var sources = Directory.GetFiles(ChartFiles.Crds, "*.yaml").Select(Path.GetFileName).Order().ToList();
        Assert.Equal(sources, Directory.GetFiles(Path.Combine(ChartFiles.Chart, "templates", "crds")).Select(Path.GetFileName).Order());
        Assert.Equal(sources, Directory.GetFiles(Path.Combine(ChartFiles.Config, "crd", "bases")).Select(Path.GetFileName).Order());
        foreach (var name in sources)
        {
            var source = File.ReadAllText(Path.Combine(ChartFiles.Crds, name!));
            Assert.DoesNotContain("{{", source, StringComparison.Ordinal);
            Assert.True(source == File.ReadAllText(Path.Combine(ChartFiles.Config, "crd", "bases", name!)), $"config/crd/bases/{name} is stale: run `make crds`.");

            var template = File.ReadAllLines(Path.Combine(ChartFiles.Chart, "templates", "crds", name!));
            Assert.Equal("{{- if .Values.crds.install }}", template[0]);
            Assert.Equal("{{- end }}", template[^1]);
            var rendered = ChartFiles.Documents(string.Join('\n', template.Where(line => !line.TrimStart().StartsWith("{{", StringComparison.Ordinal)))).Single();
            var annotations = rendered["metadata"]!["annotations"]!.AsObject();
            Assert.Equal("keep", annotations["helm.sh/resource-policy"]!.GetValue<string>());
            annotations.Remove("helm.sh/resource-policy");
            rendered["metadata"]!.AsObject().Remove("annotations");
            Assert.True(JsonNode.DeepEquals(ChartFiles.Documents(source).Single(), rendered), $"charts/nexus-operator/templates/crds/{name} is stale: run `make crds`.");
        }
    }

    [GeneratedRegex(@"^\s*\{\{-?.*?-?\}\}\s*$")]
    private static partial Regex WholeLineAction();

    [GeneratedRegex(@"\{\{-?.*?-?\}\}")]
    private static partial Regex Action();

    private static void Set(JsonObject values, string path, JsonNode? value)
    {
        var segments = path.Split('.');
        var parent = segments[..^1].Aggregate(values, (node, segment) => node[segment]!.AsObject());
        parent[segments[^1]] = value;
    }
}
