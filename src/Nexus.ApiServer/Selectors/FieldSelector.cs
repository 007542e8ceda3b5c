using System.Text;
using System.Text.Json.Nodes;
using Nexus.ApiServer.Storage;

namespace Nexus.ApiServer.Selectors;

/// <summary>A parsed <c>fieldSelector</c>: <c>field=value</c>, <c>field==value</c>, <c>field!=value</c> joined by
/// commas, with <c>\,</c>, <c>\=</c> and <c>\\</c> escapes. Which fields are selectable is per resource, as in the real
/// API server (metadata.name and metadata.namespace everywhere; custom resources add their selectableFields).</summary>
internal sealed class FieldSelector
{
    public static readonly FieldSelector Everything = new([]);

    private readonly IReadOnlyList<(string Field, bool Equal, string Value)> terms;

    private FieldSelector(IReadOnlyList<(string Field, bool Equal, string Value)> terms) => this.terms = terms;

    public bool IsEverything => terms.Count == 0;

    public bool Matches(JsonObject obj) => terms.All(t => (Value(obj, t.Field) == t.Value) == t.Equal);

    public bool Matches(StoredObject stored) => IsEverything || Matches(stored.ToJsonObject());

    private static string Value(JsonObject obj, string field) => ObjectJson.PathString(obj, field) ?? string.Empty;

    /// <summary>Parses a selector; throws <see cref="FormatException"/> for bad syntax or a field the resource does not
    /// support.</summary>
    public static FieldSelector Parse(string? text, IReadOnlySet<string> selectable)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Everything;
        }

        var terms = new List<(string, bool, string)>();
        foreach (var part in SplitUnescaped(text, ','))
        {
            if (part.Length == 0)
            {
                continue;
            }

            var (field, equal, value) = ParseTerm(part);
            if (!selectable.Contains(field))
            {
                throw new FormatException($"field label not supported: {field}");
            }

            terms.Add((field, equal, value));
        }

        return new FieldSelector(terms);
    }

    private static (string Field, bool Equal, string Value) ParseTerm(string term)
    {
        for (var i = 0; i < term.Length; i++)
        {
            if (term[i] == '\\')
            {
                i++;
                continue;
            }

            if (term[i] == '!' && i + 1 < term.Length && term[i + 1] == '=')
            {
                return (term[..i].Trim(), false, Unescape(term[(i + 2)..]));
            }

            if (term[i] == '=')
            {
                var valueStart = i + 1 < term.Length && term[i + 1] == '=' ? i + 2 : i + 1;
                return (term[..i].Trim(), true, Unescape(term[valueStart..]));
            }
        }

        throw new FormatException($"invalid selector: '{term}'; can't understand '{term}'");
    }

    private static List<string> SplitUnescaped(string text, char separator)
    {
        var parts = new List<string>();
        var current = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length)
            {
                current.Append(text[i]).Append(text[i + 1]);
                i++;
            }
            else if (text[i] == separator)
            {
                parts.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(text[i]);
            }
        }

        parts.Add(current.ToString());
        return parts;
    }

    private static string Unescape(string value)
    {
        var result = new StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\')
            {
                if (i + 1 >= value.Length || value[i + 1] is not ('\\' or ',' or '='))
                {
                    throw new FormatException($"invalid escape sequence in field selector value: {value}");
                }

                i++;
            }

            result.Append(value[i]);
        }

        return result.ToString();
    }
}
