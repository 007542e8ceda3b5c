using k8s;
using k8s.Models;
using Nexus.Api.Validation;
using Nexus.Api.Tests.Crds;
using Nexus.Api.V1Alpha1;

namespace Nexus.Api.Tests;

/// <summary>examples/ holds manifests a user applies; they must read into the API types and fit the CRDs.</summary>
public class ExamplesTests
{
    private static readonly string[] InitialDomains = ["news", "science", "books", "speeches"];

    private static IEnumerable<string> Files() => Directory
        .GetFiles(RepositoryRoot.Combine("examples"), "*.yaml", SearchOption.AllDirectories)
        .Select(path => Path.GetRelativePath(RepositoryRoot.Path, path).Replace('\\', '/'))
        .Order(StringComparer.Ordinal);

    public static TheoryData<string> ExampleFiles() => new(Files());

    [Fact]
    public void TheExpectedExamplesExist()
    {
        var files = Files().ToList();

        Assert.Equal(
        [
            "examples/expert-books.yaml", "examples/expert-news.yaml", "examples/expert-science.yaml",
            "examples/expert-speeches.yaml", "examples/extension/code-expert.yaml",
            "examples/extension/manual-extension.yaml", "examples/nexusmodel-demo.yaml",
        ], files);
    }

    [Theory]
    [MemberData(nameof(ExampleFiles))]
    public void ExampleReadsStrictlyAndFitsTheSchema(string file)
    {
        var resource = Load(file);
        var manifest = YamlToJson.Convert(File.ReadAllText(RepositoryRoot.Combine(file)))!.AsObject();

        var (errors, pruned) = InstalledSchemas.Admit(manifest);

        Assert.True(errors.Count == 0, $"{file}: {FieldError.Aggregate(errors)}");
        Assert.False(pruned, $"{file}: the API server would drop a field the manifest sets");
        Assert.Equal(GroupVersion.ApiVersion, ((IKubernetesObject)resource).ApiVersion);
        Assert.Null(((INexusResource)resource).GetType().GetProperty("Status")!.GetValue(resource));
    }

    [Fact]
    public void TheDemoModelSelectsTheFourInitialExpertsAndLaterTheCodeExpert()
    {
        var experts = InitialDomains.Select(domain => Load<Expert>($"examples/expert-{domain}.yaml")).ToList();
        var code = Load<Expert>("examples/extension/code-expert.yaml");
        var model = Load<NexusModel>("examples/nexusmodel-demo.yaml");

        var selector = model.Spec.Experts.Selector!;
        Assert.Null(model.Spec.Experts.Names);
        Assert.Empty(selector.MatchExpressions ?? []);
        foreach (var expert in experts.Append(code))
        {
            Assert.Equal(expert.Metadata.Name, expert.Spec.Domain);
            Assert.All(selector.MatchLabels, label => Assert.Equal(label.Value, expert.Metadata.Labels[label.Key]));
            Assert.Equal(model.Spec.Seed.Uri, expert.Spec.Seed.Uri);
            Assert.Equal($"s3://corpora/nexus-data/{expert.Spec.Domain}", expert.Spec.Data.Uri);
            Assert.NotNull(expert.Spec.Training);
            Assert.Null(expert.Spec.Import);
            // The reproduction's expert budget (bench/reproduce.sh): 400 steps of 16 x 128 tokens, 65,536 embedding tokens.
            Assert.Equal((400L, 16, 128, 0.003, 30L), (expert.Spec.Training.Steps, expert.Spec.Training.BatchSize,
                expert.Spec.Training.SequenceLength, expert.Spec.Training.LearningRate, expert.Spec.Training.WarmupSteps));
            Assert.Equal(EmbeddingSpec.DefaultSampleTokens, expert.Spec.Embedding.SampleTokens);
        }
        Assert.Equal(InitialDomains, experts.Select(e => e.Spec.Domain));
        Assert.Equal(ExtensionPolicy.Automatic, model.Spec.Extension.Policy);
        Assert.Equal(RouterType.Nexus, model.Spec.Router.Type);
        Assert.Equal(400, model.Spec.Finetune.Steps);
    }

    [Fact]
    public void TheManualExtensionAddsTheCodeExpertToTheDemoModel()
    {
        var extension = Load<Extension>("examples/extension/manual-extension.yaml");

        Assert.Equal(Load<NexusModel>("examples/nexusmodel-demo.yaml").Metadata.Name, extension.Spec.Model);
        Assert.Equal([Load<Expert>("examples/extension/code-expert.yaml").Metadata.Name], extension.Spec.Add!);
        Assert.Null(extension.Spec.Remove);
        Assert.True(extension.Spec.Finetune!.WarmupSteps <= extension.Spec.Finetune.Steps);
    }

    private static T Load<T>(string file) => KubernetesYaml.Deserialize<T>(File.ReadAllText(RepositoryRoot.Combine(file)), strict: true);

    private static object Load(string file)
    {
        var text = File.ReadAllText(RepositoryRoot.Combine(file));
        var kind = KubernetesYaml.Deserialize<KubernetesObject>(text).Kind;
        return kind switch
        {
            Expert.KubeKind => KubernetesYaml.Deserialize<Expert>(text, strict: true),
            NexusModel.KubeKind => KubernetesYaml.Deserialize<NexusModel>(text, strict: true),
            Extension.KubeKind => KubernetesYaml.Deserialize<Extension>(text, strict: true),
            _ => throw new InvalidOperationException($"{file}: unexpected kind {kind}"),
        };
    }
}
