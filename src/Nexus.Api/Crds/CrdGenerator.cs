using System.Reflection;
using k8s;
using k8s.Models;
using Nexus.Api.V1Alpha1;

namespace Nexus.Api.Crds;

/// <summary>A generated CustomResourceDefinition: the object, its YAML, and the file it belongs in.</summary>
/// <param name="Kind">The kind it defines, e.g. Expert.</param>
/// <param name="FileName">kubebuilder's file name, GROUP_PLURAL.yaml.</param>
public sealed record GeneratedCrd(string Kind, string FileName, V1CustomResourceDefinition Definition, string Yaml);

/// <summary>
/// Generates the CustomResourceDefinitions of the Nexus kinds from the C# types, so the schema has one source of
/// truth. The output is deterministic (ordered keys, no timestamps): the committed crds/ must equal it, and a test
/// fails when it does not.
/// </summary>
public static class CrdGenerator
{
    /// <summary>The kinds, in the order their CRDs are generated.</summary>
    public static IReadOnlyList<Type> Kinds { get; } = [typeof(Expert), typeof(NexusModel), typeof(Extension)];

    /// <summary>Every Nexus kind is in this category: <c>kubectl get nexus</c> lists them all.</summary>
    public const string Category = "nexus";

    private const string Header =
        "# Generated from the C# types in src/Nexus.Api/V1Alpha1 by Nexus.Api.Crds.CrdGenerator. Do not edit: run `make crds`.\n";

    public static IReadOnlyList<GeneratedCrd> Generate() => Kinds.Select(Generate).ToList();

    public static GeneratedCrd Generate(Type kind)
    {
        var definition = Build(kind);
        var names = definition.Spec.Names;
        return new GeneratedCrd(names.Kind, $"{definition.Spec.Group}_{names.Plural}.yaml", definition, ToYaml(definition));
    }

    /// <summary>The CustomResourceDefinition of one kind (a class with [KubernetesEntity] implementing INexusResource).</summary>
    public static V1CustomResourceDefinition Build(Type kind)
    {
        var entity = kind.GetCustomAttribute<KubernetesEntityAttribute>()
            ?? throw new ArgumentException($"{kind.Name} has no [KubernetesEntity].", nameof(kind));
        if (!typeof(INexusResource).IsAssignableFrom(kind))
            throw new ArgumentException($"{kind.Name} is not an INexusResource.", nameof(kind));

        var columns = kind.GetCustomAttributes<PrinterColumnAttribute>()
            .Select(column => new V1CustomResourceColumnDefinition
            {
                Name = column.Name,
                Type = column.Type,
                JsonPath = column.JsonPath,
                Description = column.Description,
                Priority = column.Priority == 0 ? null : column.Priority,
            })
            .ToList();

        return new V1CustomResourceDefinition
        {
            ApiVersion = "apiextensions.k8s.io/v1",
            Kind = "CustomResourceDefinition",
            Metadata = new V1ObjectMeta { Name = $"{entity.PluralName}.{entity.Group}" },
            Spec = new V1CustomResourceDefinitionSpec
            {
                Group = entity.Group,
                Names = new V1CustomResourceDefinitionNames
                {
                    Kind = entity.Kind,
                    ListKind = entity.Kind + "List",
                    Plural = entity.PluralName,
                    Singular = entity.Kind.ToLowerInvariant(),
                    ShortNames = kind.GetCustomAttribute<ShortNamesAttribute>()?.Names.ToList(),
                    Categories = [Category],
                },
                Scope = "Namespaced",
                Versions =
                [
                    new V1CustomResourceDefinitionVersion
                    {
                        Name = entity.ApiVersion,
                        Served = true,
                        Storage = true,
                        Schema = new V1CustomResourceValidation { OpenAPIV3Schema = SchemaBuilder.ForKind(kind) },
                        Subresources = new V1CustomResourceSubresources { Status = new Dictionary<string, object>() },
                        AdditionalPrinterColumns = columns.Count > 0 ? columns : null,
                    },
                ],
            },
        };
    }

    /// <summary>The YAML of a definition, as crds/ holds it: a header comment, a document marker, LF line ends.</summary>
    public static string ToYaml(V1CustomResourceDefinition definition) =>
        Header + "---\n" + KubernetesYaml.Serialize(definition).ReplaceLineEndings("\n");

    /// <summary>Writes every CRD into <paramref name="directory"/> (the repository's crds/), returning the paths.</summary>
    public static IReadOnlyList<string> WriteAll(string directory)
    {
        Directory.CreateDirectory(directory);
        var paths = new List<string>();
        foreach (var crd in Generate())
        {
            // A reader (kubectl apply, a chart build) never sees half a CRD.
            var path = Path.Combine(directory, crd.FileName);
            AtomicFile.WriteAllText(path, crd.Yaml);
            paths.Add(path);
        }
        return paths;
    }
}
