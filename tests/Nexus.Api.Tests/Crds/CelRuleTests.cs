using System.Text.RegularExpressions;
using k8s.Models;
using Nexus.Api.Crds;
using Nexus.Api.Validation;

namespace Nexus.Api.Tests.Crds;

/// <summary>
/// The CEL rules stay within the subset Nexus.Api's validator evaluates (literals, self/oldSelf, field selection,
/// has, size, in, logic, comparison, arithmetic, the string functions, the list macros, int and string), and every
/// field they select exists in the schema node the rule sits on.
/// </summary>
public partial class CelRuleTests
{
    private static readonly HashSet<string> GlobalNames = ["self", "oldSelf", "has", "size", "int", "string", "true", "false", "null", "in"];
    private static readonly HashSet<string> Methods = ["startsWith", "endsWith", "contains", "matches", "size", "all", "exists", "exists_one", "map", "filter"];
    private static readonly HashSet<string> Macros = ["all", "exists", "exists_one", "map", "filter"];

    [GeneratedRegex("""\s*(?:(?<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?<number>\d+(?:\.\d+)?)|(?<name>[A-Za-z_][A-Za-z0-9_]*)|(?<op>==|!=|<=|>=|&&|\|\||[<>!?:+\-*/%().,\[\]]))""")]
    private static partial Regex Token();

    private sealed record Rule(string Where, V1JSONSchemaProps Node, V1ValidationRule Validation);

    private static IEnumerable<Rule> AllRules() =>
        CrdGenerator.Generate().SelectMany(crd => SchemaNodes.Walk(crd.Definition.Spec.Versions.Single().Schema.OpenAPIV3Schema)
            .SelectMany(node => (node.Schema.XKubernetesValidations ?? []).Select(rule => new Rule(crd.Kind + node.Path, node.Schema, rule))));

    [Fact]
    public void EveryRuleUsesTheSupportedSubset()
    {
        var rules = AllRules().ToList();
        Assert.True(rules.Count >= 10, $"only {rules.Count} rules found");
        foreach (var rule in rules)
        {
            var problems = Problems(rule.Validation.Rule, rule.Node);
            Assert.True(problems.Count == 0, $"{rule.Where}: '{rule.Validation.Rule}': {string.Join("; ", problems)}");
            Assert.False(string.IsNullOrWhiteSpace(rule.Validation.Message), $"{rule.Where}: a rule without a message");
        }
    }

    [Fact]
    public void EveryRuleCompilesInTheValidator()
    {
        foreach (var rule in AllRules())
        {
            var exception = Record.Exception(() => CelProgram.Compile(rule.Validation.Rule));
            Assert.True(exception is null, $"{rule.Where}: {exception?.Message}");
        }
    }

    [Fact]
    public void FieldPathsNameFieldsOfTheRulesNode()
    {
        foreach (var rule in AllRules().Where(r => r.Validation.FieldPath is not null))
            Assert.True(SchemaNodes.Find(rule.Node, rule.Validation.FieldPath) is not null, $"{rule.Where}: fieldPath {rule.Validation.FieldPath}");
    }

    [Theory]
    [InlineData("type(self) == string", "type")]
    [InlineData("self.maxSurg == 0", "maxSurg")]
    [InlineData("self.all(x, x > 0", "parentheses")]
    [InlineData("self.lowerAscii() == 'a'", "lowerAscii")]
    [InlineData("self.a ^ 1", "unexpected")]
    public void TheCheckRejectsWhatTheValidatorCannotEvaluate(string rule, string complaint)
    {
        var node = new V1JSONSchemaProps
        {
            Type = "object",
            Properties = new Dictionary<string, V1JSONSchemaProps>
            {
                ["maxSurge"] = new() { Type = "integer" }, ["a"] = new() { Type = "integer" },
            },
        };

        Assert.Contains(Problems(rule, node), problem => problem.Contains(complaint, StringComparison.Ordinal));
    }

    /// <summary>What in <paramref name="rule"/> falls outside the subset, or names a field <paramref name="node"/> lacks.</summary>
    private static List<string> Problems(string rule, V1JSONSchemaProps node)
    {
        var problems = new List<string>();
        var tokens = new List<(string Kind, string Text)>();
        var position = 0;
        foreach (Match match in Token().Matches(rule))
        {
            if (match.Index != position)
                problems.Add($"unexpected text at {position}: '{rule[position..match.Index]}'");
            position = match.Index + match.Length;
            var kind = new[] { "string", "number", "name", "op" }.First(group => match.Groups[group].Success);
            tokens.Add((kind, match.Groups[kind].Value));
        }
        if (rule[position..].Trim().Length > 0)
            problems.Add($"unexpected text at {position}: '{rule[position..]}'");
        if (tokens.Count(t => t.Text == "(") != tokens.Count(t => t.Text == ")") || tokens.Count(t => t.Text == "[") != tokens.Count(t => t.Text == "]"))
            problems.Add("unbalanced parentheses or brackets");

        var bound = new HashSet<string>();
        for (var i = 0; i < tokens.Count; i++)
        {
            var (kind, text) = tokens[i];
            if (kind != "name")
                continue;
            var afterDot = i > 0 && tokens[i - 1].Text == ".";
            var isCall = i + 1 < tokens.Count && tokens[i + 1].Text == "(";
            if (afterDot && isCall)
            {
                if (!Methods.Contains(text))
                    problems.Add($"unsupported function {text}()");
                if (Macros.Contains(text) && i + 2 < tokens.Count && tokens[i + 2].Kind == "name")
                    bound.Add(tokens[i + 2].Text);
            }
            else if (!afterDot && !GlobalNames.Contains(text) && !bound.Contains(text) && !IsMacroVariable(tokens, i))
            {
                problems.Add($"unsupported name {text}");
            }
            else if (!afterDot && text is "self" or "oldSelf")
            {
                CheckSelection(tokens, i, node, problems);
            }
        }
        return problems;
    }

    private static bool IsMacroVariable(List<(string Kind, string Text)> tokens, int i) =>
        i >= 3 && tokens[i - 1].Text == "(" && Macros.Contains(tokens[i - 2].Text) && tokens[i - 3].Text == ".";

    /// <summary>self.a.b: each selected field must exist below the rule's node (k8s escapes CEL keywords as __name__).</summary>
    private static void CheckSelection(List<(string Kind, string Text)> tokens, int i, V1JSONSchemaProps node, List<string> problems)
    {
        var current = node;
        for (var j = i + 1; j + 1 < tokens.Count && tokens[j].Text == "." && tokens[j + 1].Kind == "name"; j += 2)
        {
            var isCall = j + 2 < tokens.Count && tokens[j + 2].Text == "(";
            if (isCall)
                return;
            var field = Regex.Replace(tokens[j + 1].Text, "^__(.+)__$", "$1");
            if (current.Properties?.TryGetValue(field, out var next) != true)
            {
                problems.Add($"no field {tokens[j + 1].Text} here");
                return;
            }
            current = next!;
        }
    }
}
