using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Nexus.Api.Validation;

namespace Nexus.Operator.Tests.Chart;

/// <summary>The chart's and the kustomize base's files as the tests read them: values, templates, the RBAC rules
/// (expanded to one (apiGroup, resource, verb) per grant) and the CRD copies.</summary>
internal static partial class ChartFiles
{
    public static string Chart => Path.Combine(RepositoryRoot.Path, "charts", "nexus-operator");

    public static string Config => Path.Combine(RepositoryRoot.Path, "config");

    public static string Crds => Path.Combine(RepositoryRoot.Path, "crds");

    public static JsonObject Values() => (JsonObject)YamlToJson.Convert(File.ReadAllText(Path.Combine(Chart, "values.yaml")))!;

    public static JsonObject Schema() => (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(Chart, "values.schema.json")))!;

    /// <summary>Every file Helm renders: templates/ and its subfolders (the .tpl helpers and NOTES.txt included).</summary>
    public static IEnumerable<string> Templates() =>
        Directory.EnumerateFiles(Path.Combine(Chart, "templates"), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal);

    /// <summary>
    /// The <c>.Values</c> paths a template's text names: <c>.Values.a.b</c> and <c>$.Values.a.b</c> (inside a
    /// <c>range</c>), up to the first segment that is not a plain name. Not seen: a path reached relative to a
    /// <c>with</c> or <c>range</c> over a values map (<c>with .Values.a</c> then <c>.b</c>: only <c>a</c> is
    /// checked), through <c>index .Values "a"</c>, or built by <c>tpl</c>; the chart keeps to the forms seen.
    /// </summary>
    public static IReadOnlyList<string> ValuesPaths(string templateText) =>
        ValuesPath().Matches(templateText).Select(match => match.Groups["path"].Value[1..]).Distinct().ToList();

    /// <summary>Whether <paramref name="path"/> (<c>a.b.c</c>) names a key of <paramref name="values"/>; a path that
    /// goes on below a leaf (a string, a list) does not.</summary>
    public static bool Exists(JsonObject values, string path)
    {
        JsonNode? node = values;
        foreach (var segment in path.Split('.'))
        {
            if (node is not JsonObject map || !map.ContainsKey(segment))
            {
                return false;
            }

            node = map[segment];
        }

        return true;
    }

    /// <summary>RBAC rules (a YAML list, or an object with <c>rules</c>) as one (apiGroup, resource, verb) per grant.</summary>
    public static HashSet<Grant> Grants(JsonNode? rules)
    {
        var grants = new HashSet<Grant>();
        foreach (var rule in (rules as JsonObject)?["rules"]?.AsArray() ?? rules!.AsArray())
        {
            foreach (var group in rule!["apiGroups"]!.AsArray())
            {
                foreach (var resource in rule["resources"]!.AsArray())
                {
                    foreach (var verb in rule["verbs"]!.AsArray())
                    {
                        grants.Add(new Grant(group!.GetValue<string>(), resource!.GetValue<string>(), verb!.GetValue<string>()));
                    }
                }
            }
        }

        return grants;
    }

    /// <summary>The rules file of the chart (files/NAME), parsed.</summary>
    public static JsonNode? Rules(string file) => YamlToJson.Convert(File.ReadAllText(Path.Combine(Chart, "files", file)));

    /// <summary>The documents of a YAML file that are objects (a leading comment-only document is skipped).</summary>
    public static IReadOnlyList<JsonObject> Documents(string text) => YamlToJson.ConvertAll(text).OfType<JsonObject>().ToList();

    [GeneratedRegex(@"(?<![\w)])\$?\.Values(?<path>(\.[A-Za-z_][A-Za-z0-9_]*)+)")]
    private static partial Regex ValuesPath();
}

/// <summary>One RBAC grant: a verb on a resource (<c>jobs</c>, or <c>experts/status</c>) of an API group (<c>""</c> for core).</summary>
internal sealed record Grant(string ApiGroup, string Resource, string Verb)
{
    public override string ToString() => $"{(ApiGroup.Length == 0 ? "core" : ApiGroup)} {Resource} {Verb}";
}
