using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Nexus.Api.V1Alpha1;

namespace Nexus.Api.Tests.V1Alpha1;

public class SerializationTests
{
    public static TheoryData<string> SampleNames() => ["Expert", "ImportedExpert", "NexusModel", "Extension"];

    private static object Sample(string name) => name switch
    {
        "Expert" => Samples.Expert(),
        "ImportedExpert" => Samples.ImportedExpert(),
        "NexusModel" => Samples.NexusModel(),
        "Extension" => Samples.Extension(),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(SampleNames))]
    public void JsonRoundTripKeepsEveryField(string name)
    {
        var sample = Sample(name);
        var json = KubernetesJson.Serialize(sample);

        var back = Deserialize(json, sample.GetType());

        Assert.Equal(json, KubernetesJson.Serialize(back));
    }

    [Theory]
    [MemberData(nameof(SampleNames))]
    public void YamlRoundTripKeepsEveryField(string name)
    {
        var sample = Sample(name);
        var yaml = KubernetesYaml.Serialize(sample);

        var back = typeof(KubernetesYaml).GetMethod(nameof(KubernetesYaml.Deserialize), [typeof(string), typeof(bool)])!
            .MakeGenericMethod(sample.GetType()).Invoke(null, [yaml, true])!;

        Assert.Equal(KubernetesJson.Serialize(sample), KubernetesJson.Serialize(back));
    }

    [Fact]
    public void JsonUsesTheApiShape()
    {
        var json = JsonNode.Parse(KubernetesJson.Serialize(Samples.NexusModel()))!;

        Assert.Equal("nexus.moe/v1alpha1", (string?)json["apiVersion"]);
        Assert.Equal("NexusModel", (string?)json["kind"]);
        var spec = json["spec"]!;
        Assert.Equal("linear", (string?)spec["router"]!["type"]);
        Assert.Equal(2, (int?)spec["router"]!["topK"]);
        Assert.Equal("explicit", (string?)spec["finetune"]!["mix"]!["type"]);
        Assert.Equal("Manual", (string?)spec["extension"]!["policy"]);
        Assert.Equal("vllm", (string?)spec["serving"]!["runtime"]);
        // Int-or-string keeps its kind: a number stays a number, a percentage a string.
        Assert.Equal(JsonValueKind.Number, spec["serving"]!["strategy"]!["maxSurge"]!.GetValueKind());
        Assert.Equal("25%", (string?)spec["serving"]!["strategy"]!["maxUnavailable"]);
        Assert.Equal("500m", (string?)spec["resources"]!["cpu"]);
        Assert.Equal("16Gi", (string?)spec["resources"]!["memory"]);
        Assert.Equal("amd.com/gpu", (string?)spec["resources"]!["gpu"]!["resourceName"]);
        var status = json["status"]!;
        Assert.Equal("RollingOut", (string?)status["phase"]);
        Assert.Equal("Initial", (string?)status["revisions"]![0]!["reason"]);
        Assert.Equal("2025-03-01T12:00:00Z", (string?)status["revisions"]![0]!["createdAt"]);
        Assert.Equal("2025-03-01T12:00:00Z", (string?)status["conditions"]![0]!["lastTransitionTime"]);
    }

    [Fact]
    public void YamlReadsWhatAUserWrites()
    {
        const string yaml = """
            apiVersion: nexus.moe/v1alpha1
            kind: NexusModel
            metadata:
              name: demo
            spec:
              seed:
                uri: s3://models/seed
              experts:
                names: [news, books]
              router:
                type: linear
              finetune:
                learningRate: 3e-3
                mix:
                  type: uniform
              serving:
                runtime: vllm
                strategy:
                  maxSurge: 0
                  maxUnavailable: 25%
                resources:
                  cpu: 2
                  memory: 8Gi
            """;

        var model = KubernetesYaml.Deserialize<NexusModel>(yaml, strict: true);

        Assert.Equal(["news", "books"], model.Spec.Experts.Names!);
        Assert.Equal(RouterType.Linear, model.Spec.Router.Type);
        Assert.Equal(1, model.Spec.Router.TopK);
        Assert.Equal(0.003, model.Spec.Finetune.LearningRate);
        Assert.Equal(MixType.Uniform, model.Spec.Finetune.Mix.Type);
        Assert.Equal(ServingRuntime.Vllm, model.Spec.Serving.Runtime);
        Assert.Equal("0", model.Spec.Serving.Strategy.MaxSurge?.Value);
        Assert.Equal("25%", model.Spec.Serving.Strategy.MaxUnavailable?.Value);
        Assert.Equal("2", model.Spec.Serving.Resources.Cpu?.ToString());
        Assert.Equal(8L * 1024 * 1024 * 1024, model.Spec.Serving.Resources.Memory?.ToInt64());
    }

    [Fact]
    public void MissingFieldsTakeTheSchemaDefaults()
    {
        var model = KubernetesJson.Deserialize<NexusModel>("""{"spec":{"seed":{"uri":"s3://m/seed"},"experts":{"names":["a"]}}}""");

        Assert.Equal(RouterType.Nexus, model.Spec.Router.Type);
        Assert.Equal(0.05, model.Spec.Router.AuxLossCoefficient);
        Assert.Null(model.Spec.Router.ProjectionSize);
        Assert.Equal(400, model.Spec.Finetune.Steps);
        Assert.Equal(MixType.Proportional, model.Spec.Finetune.Mix.Type);
        Assert.Equal(ExtensionPolicy.Automatic, model.Spec.Extension.Policy);
        Assert.Equal(40, model.Spec.Extension.Finetune.Steps);
        Assert.Equal(0, model.Spec.Extension.Finetune.WarmupSteps);
        Assert.Equal(0.5, model.Spec.Extension.NewDomainShare);
        Assert.Equal(10, model.Spec.RevisionHistoryLimit);
        Assert.Equal(1, model.Spec.Serving.Replicas);
        Assert.Equal(8080, model.Spec.Serving.Port);
        Assert.Equal("1", model.Spec.Serving.Strategy.MaxSurge?.Value);
        Assert.Equal("0", model.Spec.Serving.Strategy.MaxUnavailable?.Value);
        Assert.Null(model.Spec.Resources.Gpu.ResourceName);
        Assert.Equal(0, model.Spec.Resources.Gpu.Count);
        Assert.Null(model.Status);
    }

    public static TheoryData<Type> EnumTypes() => new(typeof(Expert).Assembly.GetTypes()
        .Where(t => t.IsEnum && t.IsPublic && t.Namespace == typeof(Expert).Namespace));

    /// <summary>Each value reads back from the name the schema lists, in JSON and in YAML.</summary>
    [Theory]
    [MemberData(nameof(EnumTypes))]
    public void EnumsRoundTripUnderTheirSchemaNames(Type enumType)
    {
        var names = Nexus.Api.Crds.SchemaBuilder.EnumNames(enumType);
        var values = Enum.GetValues(enumType);
        Assert.Equal(values.Length, names.Count);
        for (var i = 0; i < names.Count; i++)
        {
            var value = values.GetValue(i)!;
            Assert.Equal($"\"{names[i]}\"", JsonSerializer.Serialize(value, enumType));
            Assert.Equal($"\"{names[i]}\"", KubernetesJson.Serialize(value));
            Assert.Equal(value, JsonSerializer.Deserialize($"\"{names[i]}\"", enumType));
            var holderType = typeof(Holder<>).MakeGenericType(enumType);
            var holder = typeof(KubernetesYaml).GetMethod(nameof(KubernetesYaml.Deserialize), [typeof(string), typeof(bool)])!
                .MakeGenericMethod(holderType).Invoke(null, [$"value: {names[i]}", true])!;
            Assert.Equal(value, holderType.GetProperty("Value")!.GetValue(holder));
            Assert.Equal($"value: {names[i]}", KubernetesYaml.Serialize(holder).Trim());
        }
    }

    public static TheoryData<Type> ApiTypes() => new(typeof(Expert).Assembly.GetTypes()
        .Where(t => t.IsClass && t.IsPublic && t.Namespace == typeof(Expert).Namespace && t.GetProperties().Length > 0));

    /// <summary>
    /// KubernetesYaml names the properties of non-k8s types by camel-casing the C# name and ignores [JsonPropertyName],
    /// so the two must agree or YAML manifests would silently lose fields.
    /// </summary>
    [Theory]
    [MemberData(nameof(ApiTypes))]
    public void JsonNamesAreTheCamelCasedPropertyNames(Type type)
    {
        foreach (var property in Nexus.Api.Crds.SchemaBuilder.DataProperties(type))
        {
            var jsonName = Nexus.Api.Crds.SchemaBuilder.JsonName(property);
            Assert.Equal(YamlDotNet.Serialization.NamingConventions.CamelCaseNamingConvention.Instance.Apply(property.Name), jsonName);
        }
    }

    [Fact]
    public void EnsureStatusCreatesTheStatusOnce()
    {
        INexusResource[] resources = [new Expert(), new NexusModel(), new Extension()];
        foreach (var resource in resources)
        {
            var status = resource.EnsureStatus();
            status.ObservedGeneration = 5;
            Assert.Same(status, resource.EnsureStatus());
            Assert.Equal(5, ((IConditionedStatus)resource.GetType().GetProperty("Status")!.GetValue(resource)!).ObservedGeneration);
        }
    }

    [Theory]
    [InlineData(typeof(Expert), "Expert", "experts")]
    [InlineData(typeof(NexusModel), "NexusModel", "nexusmodels")]
    [InlineData(typeof(Extension), "Extension", "extensions")]
    [InlineData(typeof(ExpertList), "ExpertList", "experts")]
    [InlineData(typeof(NexusModelList), "NexusModelList", "nexusmodels")]
    [InlineData(typeof(ExtensionList), "ExtensionList", "extensions")]
    public void KindsCarryTheirGroupVersionKind(Type type, string kind, string plural)
    {
        var entity = type.GetCustomAttribute<KubernetesEntityAttribute>()!;
        Assert.Equal(("nexus.moe", "v1alpha1", kind, plural), (entity.Group, entity.ApiVersion, entity.Kind, entity.PluralName));
        var instance = (IKubernetesObject)Activator.CreateInstance(type)!;
        Assert.Equal("nexus.moe/v1alpha1", instance.ApiVersion);
        Assert.Equal(kind, instance.Kind);
    }

    [Fact]
    public void ListsDeserializeFromAListResponse()
    {
        var json = $$"""{"apiVersion":"nexus.moe/v1alpha1","kind":"ExpertList","metadata":{"resourceVersion":"42"},"items":[{{KubernetesJson.Serialize(Samples.Expert())}}]}""";

        var list = KubernetesJson.Deserialize<ExpertList>(json);

        Assert.Equal("42", list.Metadata.ResourceVersion);
        Assert.Equal("news", Assert.Single(list.Items).Spec.Domain);
    }

    public sealed class Holder<T>
    {
        public T? Value { get; set; }
    }

    private static object Deserialize(string json, Type type) =>
        typeof(KubernetesJson).GetMethod(nameof(KubernetesJson.Deserialize), [typeof(string), typeof(JsonSerializerOptions)])!
            .MakeGenericMethod(type).Invoke(null, [json, null])!;
}
