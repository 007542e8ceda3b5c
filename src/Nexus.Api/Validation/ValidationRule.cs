using System.Text.Json;
using System.Text.Json.Nodes;

namespace Nexus.Api.Validation;

/// <summary>One x-kubernetes-validations entry with its programs compiled and its fieldPath resolved.</summary>
internal sealed class ValidationRule
{
    private static readonly HashSet<string> Reasons =
        ["FieldValueInvalid", "FieldValueForbidden", "FieldValueRequired", "FieldValueDuplicate"];

    public required string Rule { get; init; }
    public string? Message { get; init; }
    public string? MessageExpression { get; init; }
    public string? Reason { get; init; }

    /// <summary>The fieldPath as apimachinery renders it (<c>maxSurge</c>, <c>selector.matchLabels[app]</c>), or empty.</summary>
    public string NormalizedFieldPath { get; init; } = "";

    public CelProgram? Program { get; init; }

    /// <summary>Why the rule did not compile; the API server reports it on every object instead of evaluating.</summary>
    public string? CompileError { get; init; }

    public CelProgram? MessageProgram { get; init; }
    public string? MessageCompileError { get; init; }

    /// <summary>A transition rule: evaluated only on update, where an old value correlates with this node.</summary>
    public bool UsesOldSelf => Program?.ReferencesOldSelf ?? false;

    /// <summary>What names the rule in evaluation errors: its message when it has one, else its text.</summary>
    public string ErrorString => string.IsNullOrEmpty(Message) ? Rule.Trim() : Message.Trim();

    /// <summary>The detail of a failed rule without a usable messageExpression.</summary>
    public string MessageOrDefault => string.IsNullOrEmpty(Message) ? $"failed rule: {ErrorString}" : Message.Trim();

    public static ValidationRule Parse(JsonNode? node, StructuralSchema owner, string location)
    {
        if (node is not JsonObject entry)
        {
            throw new ArgumentException($"{location} is not an object.");
        }

        var rule = Text(entry, "rule", location) ?? throw new ArgumentException($"{location}.rule is required.");
        var reason = Text(entry, "reason", location);
        if (reason is not null && !Reasons.Contains(reason))
        {
            throw new ArgumentException(
                $"{location}.reason {GoSyntax.Quote(reason)} is not one of {string.Join(", ", Reasons)}.");
        }

        var fieldPath = Text(entry, "fieldPath", location);
        var normalizedFieldPath = fieldPath is null ? "" : NormalizeFieldPath(fieldPath, owner, location);

        CelProgram? program = null;
        string? compileError = null;
        try
        {
            program = CelProgram.Compile(rule, CelProgram.RuleVariables, CelResultKind.Bool);
        }
        catch (CelCompileException e)
        {
            compileError = e.Message;
        }

        var messageExpression = Text(entry, "messageExpression", location);
        CelProgram? messageProgram = null;
        string? messageCompileError = null;
        if (!string.IsNullOrWhiteSpace(messageExpression))
        {
            try
            {
                messageProgram = CelProgram.Compile(messageExpression, CelProgram.RuleVariables, CelResultKind.String);
            }
            catch (CelCompileException e)
            {
                messageCompileError = e.Message;
            }
        }

        return new ValidationRule
        {
            Rule = rule,
            Message = Text(entry, "message", location),
            MessageExpression = messageExpression,
            Reason = reason,
            NormalizedFieldPath = normalizedFieldPath,
            Program = program,
            CompileError = compileError,
            MessageProgram = messageProgram,
            MessageCompileError = messageCompileError,
        };
    }

    private static string? Text(JsonObject entry, string key, string location) => entry[key] switch
    {
        null => null,
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        _ => throw new ArgumentException($"{location}.{key} is not a string."),
    };

    /// <summary>
    /// Resolves a rule's fieldPath (<c>.spec.replicas</c>, <c>.labels['app.kubernetes.io/name']</c>) against the schema
    /// the rule sits on, as the API server does when it accepts the CRD: every step must name a declared property
    /// or a key of a map.
    /// </summary>
    private static string NormalizeFieldPath(string fieldPath, StructuralSchema schema, string location)
    {
        var rendered = "";
        var current = schema;
        var position = 0;
        while (position < fieldPath.Length)
        {
            string name;
            if (fieldPath[position] == '.')
            {
                var end = fieldPath.IndexOfAny(['.', '['], position + 1);
                end = end < 0 ? fieldPath.Length : end;
                name = fieldPath[(position + 1)..end];
                position = end;
            }
            else if (fieldPath[position] == '[' && position + 1 < fieldPath.Length && fieldPath[position + 1] == '\'')
            {
                var close = fieldPath.IndexOf("']", position + 2, StringComparison.Ordinal);
                if (close < 0)
                {
                    throw InvalidFieldPath(fieldPath, location, "has an unterminated ['...']");
                }

                name = fieldPath[(position + 2)..close].Replace("\\'", "'", StringComparison.Ordinal)
                    .Replace("\\\\", "\\", StringComparison.Ordinal);
                position = close + 2;
            }
            else
            {
                throw InvalidFieldPath(fieldPath, location, $"expected [ or . at position {position}");
            }

            if (name.Length == 0)
            {
                throw InvalidFieldPath(fieldPath, location, "has an empty step");
            }

            if (current.HasProperties)
            {
                current = current.PropertiesByName.GetValueOrDefault(name)
                    ?? throw InvalidFieldPath(fieldPath, location, "does not refer to a valid field");
                rendered = FieldPath.Child(rendered, name);
            }
            else if (current.AdditionalProperties is { } values)
            {
                current = values;
                rendered = FieldPath.Key(rendered, name);
            }
            else
            {
                throw InvalidFieldPath(fieldPath, location, "does not refer to a valid field");
            }
        }

        return rendered;
    }

    private static ArgumentException InvalidFieldPath(string fieldPath, string location, string why)
        => new($"{location}.fieldPath {GoSyntax.Quote(fieldPath)} {why}.");
}
