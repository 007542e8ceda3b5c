using System.Text.Json.Nodes;

namespace Nexus.Api.Validation;

/// <summary>
/// Evaluates x-kubernetes-validations the way the API server's CEL validator walks an object: each rule on the
/// schema node it is declared on, with <c>self</c> that node's value, skipped where the value is absent or null.
/// A transition rule (one that reads <c>oldSelf</c>) runs only when an old value correlates with the node: through
/// object properties and map keys, and through list-type=map items by key; never through atomic lists or sets.
/// </summary>
internal static class RuleValidator
{
    /// <summary>The API server's bound on an evaluated messageExpression.</summary>
    private const int MaxMessageLength = 5000;

    public static void Validate(StructuralSchema schema, JsonNode? node, JsonNode? oldNode, string path, List<FieldError> errors)
    {
        if (node is null)
        {
            return;
        }

        if (schema.Rules.Count > 0)
        {
            EvaluateRules(schema, node, oldNode, path, errors);
        }

        switch (node)
        {
            case JsonObject obj:
                var oldObj = oldNode as JsonObject;
                foreach (var (key, value) in obj)
                {
                    var oldValue = oldObj?[key];
                    if (schema.PropertiesByName.TryGetValue(key, out var property))
                    {
                        Validate(property, value, oldValue, FieldPath.Child(path, key), errors);
                    }
                    else if (schema.AdditionalProperties is { } values)
                    {
                        Validate(values, value, oldValue, FieldPath.Key(path, key), errors);
                    }
                }

                break;
            case JsonArray array when schema.Items is { } items:
                var oldItems = CorrelatableItems(schema, oldNode as JsonArray);
                for (var i = 0; i < array.Count; i++)
                {
                    var oldItem = oldItems is not null && array[i] is JsonObject item
                        ? oldItems.GetValueOrDefault(JsonData.CanonicalKey(ListTypeValidator.MapKey(schema, item)))
                        : null;
                    Validate(items, array[i], oldItem, FieldPath.Index(path, i), errors);
                }

                break;
        }
    }

    /// <summary>The old items of a list-type=map list by key; null for lists whose items do not correlate.</summary>
    private static Dictionary<string, JsonNode>? CorrelatableItems(StructuralSchema schema, JsonArray? oldArray)
    {
        if (schema.ListType != "map" || schema.ListMapKeys.Count == 0 || oldArray is null)
        {
            return null;
        }

        var byKey = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
        foreach (var oldItem in oldArray.OfType<JsonObject>())
        {
            byKey.TryAdd(JsonData.CanonicalKey(ListTypeValidator.MapKey(schema, oldItem)), oldItem);
        }

        return byKey;
    }

    private static void EvaluateRules(StructuralSchema schema, JsonNode node, JsonNode? oldNode, string path, List<FieldError> errors)
    {
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal) { ["self"] = CelValues.FromJson(node, schema) };
        if (oldNode is not null)
        {
            variables["oldSelf"] = CelValues.FromJson(oldNode, schema);
        }

        var typeName = GoSyntax.Quote(schema.TypeForMessages);
        foreach (var rule in schema.Rules)
        {
            if (rule.Program is not { } program)
            {
                errors.Add(FieldErrors.Invalid(path, typeName, $"rule compile error: {rule.CompileError}"));
                continue;
            }

            if (rule.MessageCompileError is { } messageCompileError)
            {
                errors.Add(FieldErrors.Invalid(path, typeName, $"messageExpression compile error: {messageCompileError}"));
                continue;
            }

            if (program.ReferencesOldSelf && oldNode is null)
            {
                continue;
            }

            var result = program.EvaluateValue(variables);
            switch (result)
            {
                case true:
                    continue;
                case CelError error when error.Message.StartsWith("no such overload", StringComparison.Ordinal):
                    errors.Add(FieldErrors.Invalid(path, typeName,
                        $"'{error.Message}': call arguments did not match a supported operator, function or macro signature for rule: {rule.ErrorString}"));
                    continue;
                case CelError error:
                    errors.Add(FieldErrors.Invalid(path, typeName, $"{error.Message} evaluating rule: {rule.ErrorString}"));
                    continue;
                case not false:
                    errors.Add(FieldErrors.Invalid(path, typeName,
                        $"rule evaluated to {CelValues.TypeName(result)}, not a bool, evaluating rule: {rule.ErrorString}"));
                    continue;
            }

            var errorPath = rule.NormalizedFieldPath.Length == 0 ? path : FieldPath.Child(path, rule.NormalizedFieldPath);
            var detail = EvaluateMessage(rule, variables) ?? rule.MessageOrDefault;
            errors.Add(rule.Reason switch
            {
                "FieldValueForbidden" => FieldErrors.Forbidden(errorPath, detail),
                "FieldValueRequired" => FieldErrors.Required(errorPath, detail),
                "FieldValueDuplicate" => FieldErrors.Duplicate(errorPath, typeName),
                _ => FieldErrors.Invalid(errorPath, typeName, detail),
            });
        }
    }

    /// <summary>The messageExpression's text, or null when it fails, is empty, too long or multi-line, in which
    /// case the API server falls back to the static message.</summary>
    private static string? EvaluateMessage(ValidationRule rule, IReadOnlyDictionary<string, object?> variables)
    {
        if (rule.MessageProgram?.EvaluateValue(variables) is not string message)
        {
            return null;
        }

        message = message.Trim();
        return message.Length == 0 || message.Length > MaxMessageLength || message.Contains('\n') ? null : message;
    }
}
