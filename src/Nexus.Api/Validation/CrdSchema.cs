using System.Text.Json.Nodes;

namespace Nexus.Api.Validation;

/// <summary>
/// The openAPIV3Schema of one CRD version, applied to custom resources as kube-apiserver applies it: pruning of
/// unknown fields, defaulting, OpenAPI validation, list-type invariants and x-kubernetes-validations CEL rules, with
/// the API server's field paths and messages. Serves the test API server (422 Invalid on create and update),
/// <c>nexus run</c>'s local check of manifests, and tests of the generated CRDs.
/// </summary>
/// <remarks>
/// Not reproduced: validation ratcheting (the API server tolerates an unchanged invalid field on update),
/// allOf/anyOf/oneOf/not, optionalOldSelf (such rules run as plain transition rules), CEL cost budgets, and the
/// checks the API server makes on metadata itself.
/// Map entries are named <c>spec.nodeSelector[gpu]</c> throughout; the API server names them so in list-type
/// and CEL errors but <c>spec.nodeSelector.gpu</c> in OpenAPI ones.
/// </remarks>
public sealed class CrdSchema
{
    private const string UncheckedRulesDetail =
        "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

    private readonly StructuralSchema root;

    private CrdSchema(StructuralSchema root) => this.root = root;

    /// <summary>The schema of <paramref name="version"/> in a CustomResourceDefinition given as parsed JSON.</summary>
    /// <exception cref="ArgumentException">The CRD has no such version or its schema is malformed.</exception>
    public static CrdSchema FromCrd(JsonNode crd, string version)
    {
        ArgumentNullException.ThrowIfNull(crd);
        var name = crd["metadata"]?["name"]?.GetValue<string>() ?? "(unnamed)";
        var versions = crd["spec"]?["versions"] as JsonArray
            ?? throw new ArgumentException($"CRD {name} has no spec.versions.");
        var entry = versions.FirstOrDefault(candidate => candidate?["name"]?.GetValue<string>() == version)
            ?? throw new ArgumentException(
                $"CRD {name} has no version {version}; it has {string.Join(", ", versions.Select(v => v?["name"]?.GetValue<string>()))}.");
        var schema = entry["schema"]?["openAPIV3Schema"]
            ?? throw new ArgumentException($"CRD {name} version {version} has no schema.openAPIV3Schema.");
        return new CrdSchema(StructuralSchema.Parse(schema, $"{name}/{version}.openAPIV3Schema"));
    }

    /// <summary>The schema of <paramref name="version"/> in a CRD manifest (the first CustomResourceDefinition
    /// document of the YAML).</summary>
    public static CrdSchema FromCrdYaml(string yaml, string version)
    {
        var documents = YamlToJson.ConvertAll(yaml);
        var crd = documents.FirstOrDefault(document => document?["kind"]?.GetValue<string>() == "CustomResourceDefinition")
            ?? documents.FirstOrDefault()
            ?? throw new ArgumentException("The YAML holds no document.");
        return FromCrd(crd, version);
    }

    /// <summary>A schema given directly (the openAPIV3Schema object of a CRD version).</summary>
    public static CrdSchema FromOpenApi(JsonNode openApiV3Schema)
        => new(StructuralSchema.Parse(openApiV3Schema, "openAPIV3Schema"));

    /// <summary>Fills absent fields with their defaults, recursively, after dropping nulls of non-nullable fields
    /// that have none.</summary>
    public void ApplyDefaults(JsonObject obj) => Defaulter.Apply(root, obj);

    /// <summary>Drops the fields the schema does not know, keeping apiVersion, kind and metadata.</summary>
    public void Prune(JsonObject obj) => Pruner.Apply(root, obj, isResourceRoot: true);

    /// <summary>
    /// All validation errors of <paramref name="obj"/>: OpenAPI keywords, list types, then CEL rules; on update pass
    /// the stored object as <paramref name="oldObj"/> so that transition rules run. As in the API server, CEL rules
    /// are skipped (with a note) when a missing, mistyped, unsupported, too long or too many value was found.
    /// </summary>
    public IReadOnlyList<FieldError> Validate(JsonObject obj, JsonObject? oldObj = null)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var errors = new List<FieldError>();
        SchemaValidator.Validate(root, obj, "", errors);
        ListTypeValidator.Validate(root, obj, "", errors);
        if (errors.Any(BlocksRules))
        {
            errors.Add(FieldErrors.Invalid("", "\"null\"", UncheckedRulesDetail));
        }
        else
        {
            RuleValidator.Validate(root, obj, oldObj, "", errors);
        }

        return errors;
    }

    /// <summary>What the API server does with a create (or, with <paramref name="oldObj"/>, an update): prune, default,
    /// validate. <paramref name="obj"/> is changed in place; it is valid when the list is empty.</summary>
    public IReadOnlyList<FieldError> Admit(JsonObject obj, JsonObject? oldObj = null)
    {
        Prune(obj);
        ApplyDefaults(obj);
        return Validate(obj, oldObj);
    }

    private static bool BlocksRules(FieldError error)
        => error.Type is FieldErrorType.Required or FieldErrorType.NotSupported or FieldErrorType.TooLong or FieldErrorType.TooMany
            || error.Reason == FieldErrors.TypeInvalidReason;
}
