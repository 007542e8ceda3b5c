using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using k8s;
using k8s.Models;

namespace Nexus.Api.Crds;

/// <summary>
/// Renders the field-by-field Markdown reference of the Nexus kinds (docs/reference/crds.md) from the generated
/// CustomResourceDefinitions. It reads only the CRD objects, never the C# types, so it states exactly what the API
/// server enforces and cannot drift from it; like crds/, the committed file must equal the output, and a test fails
/// when it does not.
/// </summary>
public static partial class CrdReference
{
    /// <summary>Where <c>make crds</c> writes the reference, relative to the repository root.</summary>
    public const string DefaultPath = "docs/reference/crds.md";

    private const string GeneratedNotice =
        "> Generated from the CustomResourceDefinitions in crds/ by `Nexus.Api.Crds.CrdReference`. Do not edit: run " +
        "`make crds` (or `NEXUS_UPDATE_CRDS=1 dotnet test tests/Nexus.Api.Tests`).";

    /// <summary>The reference of every generated CRD, in generation order.</summary>
    public static string Markdown() => Markdown(CrdGenerator.Generate().Select(crd => crd.Definition));

    /// <summary>The reference of the given CRDs, in the given order (each must have exactly one version).</summary>
    public static string Markdown(IEnumerable<V1CustomResourceDefinition> definitions)
    {
        var crds = definitions.ToList();
        var text = new StringBuilder();
        text.Append("# Custom resource reference\n\n");
        text.Append(GeneratedNotice).Append("\n\n");
        text.Append("Every field of the Nexus custom resources as the API server validates it: type, default, bounds, ")
            .Append("whether it is required or immutable, and the CEL rules with the messages `kubectl apply` answers ")
            .Append("with. Paths use `[]` for the items of a list and `{}` for the values of a map. ")
            .Append("[The API guide](../api.md) explains what the kinds are for and how they work together.\n\n");
        foreach (var crd in crds)
            text.Append("- [").Append(crd.Spec.Names.Kind).Append("](#").Append(crd.Spec.Names.Kind.ToLowerInvariant()).Append(")\n");
        foreach (var crd in crds)
            AppendKind(text, crd);
        return text.ToString();
    }

    /// <summary>Writes <see cref="Markdown()"/> to <paramref name="path"/>, replacing the file atomically.</summary>
    public static void Write(string path) => AtomicFile.WriteAllText(path, Markdown());

    /// <summary>One node of a kind's schema under spec or status, with what its ancestors say about it.</summary>
    /// <param name="Path">Dotted JSON path, e.g. <c>spec.router.topK</c>; <c>[]</c> steps into list items, <c>{}</c> into map values.</param>
    /// <param name="Required">Listed in the enclosing object's <c>required</c>.</param>
    /// <param name="FrozenBy">The path of the node whose <c>self == oldSelf</c> rule freezes this one (itself or an
    /// ancestor), or null.</param>
    /// <param name="IsItem">A list item or map value: described by its list or map's row rather than one of its own.</param>
    internal sealed record SchemaNode(string Path, V1JSONSchemaProps Schema, bool Required, string? FrozenBy, bool IsItem);

    /// <summary>spec and status of a kind's schema and everything under them, depth first, properties in ordinal order.</summary>
    internal static IEnumerable<SchemaNode> Nodes(V1CustomResourceDefinition crd)
    {
        var root = SingleVersion(crd).Schema.OpenAPIV3Schema;
        foreach (var top in new[] { "spec", "status" })
        {
            if (root.Properties?.TryGetValue(top, out var schema) == true)
            {
                foreach (var node in Walk(schema, top, root.Required?.Contains(top) == true, frozenBy: null, isItem: false))
                    yield return node;
            }
        }
    }

    private static IEnumerable<SchemaNode> Walk(V1JSONSchemaProps schema, string path, bool required, string? frozenBy, bool isItem)
    {
        if (frozenBy is null && (schema.XKubernetesValidations ?? []).Any(rule => IsImmutabilityRule(rule.Rule)))
            frozenBy = path;
        yield return new SchemaNode(path, schema, required, frozenBy, isItem);

        foreach (var (name, child) in (schema.Properties ?? new Dictionary<string, V1JSONSchemaProps>())
                     .OrderBy(property => property.Key, StringComparer.Ordinal))
        {
            foreach (var node in Walk(child, $"{path}.{name}", schema.Required?.Contains(name) == true, frozenBy, isItem: false))
                yield return node;
        }
        if (schema.Items is V1JSONSchemaProps items && IsStructured(items))
        {
            foreach (var node in Walk(items, path + "[]", required: false, frozenBy, isItem: true))
                yield return node;
        }
        if (schema.AdditionalProperties is V1JSONSchemaProps values && IsStructured(values))
        {
            foreach (var node in Walk(values, path + "{}", required: false, frozenBy, isItem: true))
                yield return node;
        }
    }

    /// <summary>Whether a list item or map value has fields, lists or rules of its own, and so rows of its own;
    /// scalar items are described on their list's row.</summary>
    private static bool IsStructured(V1JSONSchemaProps schema) =>
        schema.Properties is { Count: > 0 } || schema.Items is not null || schema.AdditionalProperties is not null ||
        schema.XKubernetesValidations is { Count: > 0 };

    /// <summary><c>self == oldSelf</c> (either way round): the value can be set on create and never changed.</summary>
    internal static bool IsImmutabilityRule(string rule) =>
        ImmutabilityRule().IsMatch(rule);

    /// <summary>A transition rule: it compares with the stored object, so the API server runs it on updates only.</summary>
    internal static bool IsTransitionRule(string rule) => OldSelf().IsMatch(rule);

    private static void AppendKind(StringBuilder text, V1CustomResourceDefinition crd)
    {
        var names = crd.Spec.Names;
        var version = SingleVersion(crd);
        var root = version.Schema.OpenAPIV3Schema;

        text.Append("\n## ").Append(names.Kind).Append("\n\n");
        if (!string.IsNullOrEmpty(root.Description))
            text.Append(root.Description).Append("\n\n");
        text.Append("| | |\n|---|---|\n");
        Row(text, "API version", Code($"{crd.Spec.Group}/{version.Name}"));
        Row(text, "Kind", $"{Code(names.Kind)} (list: {Code(names.ListKind ?? names.Kind + "List")})");
        Row(text, "Plural / singular", $"{Code(names.Plural)} / {Code(names.Singular ?? names.Kind.ToLowerInvariant())}");
        Row(text, "Short names", CodeList(names.ShortNames));
        Row(text, "Categories", CodeList(names.Categories));
        Row(text, "Scope", crd.Spec.Scope);
        Row(text, "Subresources", CodeList(Subresources(version.Subresources)));

        var columns = version.AdditionalPrinterColumns ?? [];
        if (columns.Count > 0)
        {
            text.Append("\n### ").Append(names.Kind).Append(" printer columns\n\n");
            text.Append("`kubectl get ").Append(names.Plural).Append("` shows these columns")
                .Append(columns.Any(column => column.Priority > 0) ? "; those of priority above 0 only with `-o wide`" : "")
                .Append(".\n\n");
            text.Append("| Column | Type | JSONPath | Priority | Description |\n|---|---|---|---|---|\n");
            foreach (var column in columns)
            {
                Row(text, column.Name, column.Type, Code(column.JsonPath),
                    (column.Priority ?? 0).ToString(CultureInfo.InvariantCulture), Cell(column.Description));
            }
        }

        var nodes = Nodes(crd).ToList();
        text.Append("\n### ").Append(names.Kind).Append(" fields\n\n");
        text.Append("| Field | Type | Default | Validation | Required | Immutable | Description |\n");
        text.Append("|---|---|---|---|---|---|---|\n");
        foreach (var node in nodes.Where(node => !node.IsItem))
        {
            Row(text, Code(node.Path), Code(TypeName(node.Schema)), Default(node.Schema),
                string.Join("; ", Constraints(node.Schema, RulesAnchor(names.Kind))), node.Required ? "yes" : "", Immutability(node),
                Cell(node.Schema.Description));
        }

        var rules = nodes
            .SelectMany(node => (node.Schema.XKubernetesValidations ?? []).Select(rule => (node.Path, Rule: rule)))
            .ToList();
        if (rules.Count > 0)
        {
            text.Append("\n### ").Append(names.Kind).Append(" validation rules\n\n");
            text.Append("CEL rules (`x-kubernetes-validations`), by the field they sit on (`self`). Transition rules ")
                .Append("read `oldSelf`, the stored object, and run on updates only. A failure is reported on the ")
                .Append("field shown, with the message shown.\n\n");
            text.Append("| Field | Rule | Checked on | Reported on | Message |\n|---|---|---|---|---|\n");
            foreach (var (path, rule) in rules)
            {
                Row(text, Code(path), Code(rule.Rule), IsTransitionRule(rule.Rule) ? "update" : "create, update",
                    Code(path + (rule.FieldPath ?? "")), Cell(rule.Message ?? $"({rule.MessageExpression})"));
            }
        }
    }

    private static V1CustomResourceDefinitionVersion SingleVersion(V1CustomResourceDefinition crd) =>
        crd.Spec.Versions is [var only]
            ? only
            : throw new ArgumentException($"{crd.Metadata.Name}: the reference renders CRDs with exactly one version.");

    private static IEnumerable<string> Subresources(V1CustomResourceSubresources? subresources)
    {
        if (subresources?.Status is not null)
            yield return "status";
        if (subresources?.Scale is not null)
            yield return "scale";
    }

    /// <summary>The type as a Go programmer writes it: <c>[]string</c>, <c>map[string]number</c>, <c>int-or-string</c>,
    /// with the OpenAPI format in parentheses.</summary>
    internal static string TypeName(V1JSONSchemaProps schema)
    {
        if (schema.XKubernetesIntOrString == true)
            return "int-or-string";
        if (schema.Type == "array")
            return "[]" + (schema.Items is V1JSONSchemaProps items ? TypeName(items) : "any");
        if (schema.Type == "object" && schema.AdditionalProperties is V1JSONSchemaProps values)
            return "map[string]" + TypeName(values);
        var type = schema.Type ?? "any";
        return schema.Format is null ? type : $"{type} ({schema.Format})";
    }

    private static string Default(V1JSONSchemaProps schema) =>
        schema.DefaultProperty is null ? "" : Code(KubernetesJson.Serialize(schema.DefaultProperty));

    /// <summary>The OpenAPI keywords that restrict values, in words; a list's or map's scalar items add theirs after
    /// "each".</summary>
    private static IEnumerable<string> Constraints(V1JSONSchemaProps schema, string rulesAnchor)
    {
        foreach (var constraint in ScalarConstraints(schema))
            yield return constraint;
        if (schema.MinItems is { } minItems)
            yield return $"items ≥ {minItems}";
        if (schema.MaxItems is { } maxItems)
            yield return $"items ≤ {maxItems}";
        if (schema.XKubernetesListType == "set")
            yield return "list-type set (unique items)";
        if (schema.XKubernetesListType == "map")
            yield return $"list-type map keyed by {CodeList(schema.XKubernetesListMapKeys)}";
        if (schema.MinProperties is { } minProperties)
            yield return $"entries ≥ {minProperties}";
        if (schema.MaxProperties is { } maxProperties)
            yield return $"entries ≤ {maxProperties}";
        if (schema.XKubernetesMapType == "atomic")
            yield return "map-type atomic (replaced whole on apply)";

        var element = schema.Items as V1JSONSchemaProps ?? schema.AdditionalProperties as V1JSONSchemaProps;
        if (element is not null && !IsStructured(element))
        {
            var each = ScalarConstraints(element).ToList();
            if (each.Count > 0)
                yield return "each " + string.Join(", ", each);
        }
        if (schema.XKubernetesValidations is { Count: > 0 } rules)
            yield return $"{(rules.Count == 1 ? "CEL rule" : $"{rules.Count} CEL rules")} ([below](#{rulesAnchor}))";
    }

    private static IEnumerable<string> ScalarConstraints(V1JSONSchemaProps schema)
    {
        if (schema.EnumProperty is { Count: > 0 } values)
            yield return "one of " + string.Join(", ", values.Select(value => Code(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "null")));
        if (schema.Minimum is { } minimum)
            yield return (schema.ExclusiveMinimum == true ? "> " : "≥ ") + Number(minimum);
        if (schema.Maximum is { } maximum)
            yield return (schema.ExclusiveMaximum == true ? "< " : "≤ ") + Number(maximum);
        if (schema.MinLength is { } minLength)
            yield return $"length ≥ {minLength}";
        if (schema.MaxLength is { } maxLength)
            yield return $"length ≤ {maxLength}";
        if (schema.Pattern is { } pattern)
            yield return (schema.XKubernetesIntOrString == true ? "string form matches " : "matches ") + Code(pattern);
    }

    /// <summary>"yes" when a <c>self == oldSelf</c> rule freezes the field (its own or an ancestor's); another rule
    /// that reads <c>oldSelf</c> restricts changes without forbidding them, and the rules table says how.</summary>
    private static string Immutability(SchemaNode node) =>
        node.FrozenBy == node.Path ? "yes"
        : node.FrozenBy is not null ? $"yes (with {Code(node.FrozenBy)})"
        : (node.Schema.XKubernetesValidations ?? []).Any(rule => IsTransitionRule(rule.Rule)) ? "changes restricted (see rules)"
        : "";

    /// <summary>GitHub's anchor of the kind's "validation rules" heading.</summary>
    private static string RulesAnchor(string kind) => kind.ToLowerInvariant() + "-validation-rules";

    private static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);

    private static string CodeList(IEnumerable<string>? values)
    {
        var list = values?.ToList() ?? [];
        return list.Count == 0 ? "none" : string.Join(", ", list.Select(Code));
    }

    /// <summary>An inline code span that survives a table cell: pipes escaped (GFM splits cells on them even inside
    /// code), and a longer fence when the text holds a backtick.</summary>
    private static string Code(string text)
    {
        var fence = text.Contains('`', StringComparison.Ordinal) ? "``" : "`";
        var padding = text.StartsWith('`') || text.EndsWith('`') ? " " : "";
        return fence + padding + Cell(text) + padding + fence;
    }

    private static string Cell(string? text) =>
        (text ?? "").Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");

    private static void Row(StringBuilder text, params string[] cells) =>
        text.Append("| ").AppendJoin(" | ", cells).Append(" |\n");

    [GeneratedRegex(@"^\s*(self\s*==\s*oldSelf|oldSelf\s*==\s*self)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex ImmutabilityRule();

    [GeneratedRegex(@"\boldSelf\b", RegexOptions.CultureInvariant)]
    private static partial Regex OldSelf();
}
