using k8s.Models;
using Nexus.Api.V1Alpha1;

namespace Nexus.Operator.Policies;

/// <summary>The Experts a NexusModel selects, from the Experts of its namespace.</summary>
/// <param name="Selected">Selected Experts, by name (the router order of a new model).</param>
/// <param name="MissingNames">Names in spec.experts.names that no Expert has (yet).</param>
public sealed record ExpertSelectionResult(IReadOnlyList<Expert> Selected, IReadOnlyList<string> MissingNames);

public static class ExpertSelector
{
    public static ExpertSelectionResult Resolve(ExpertSelection selection, IEnumerable<Expert> namespaceExperts)
    {
        var byName = namespaceExperts
            .Where(expert => expert.Metadata.DeletionTimestamp is null)
            .ToDictionary(expert => expert.Metadata.Name, StringComparer.Ordinal);
        if (selection.Names is { } names)
        {
            var selected = names.Where(byName.ContainsKey).Select(name => byName[name]);
            var missing = names.Where(name => !byName.ContainsKey(name)).ToList();
            return new ExpertSelectionResult(ByName(selected), missing);
        }

        var selector = selection.Selector ?? new V1LabelSelector();
        return new ExpertSelectionResult(ByName(byName.Values.Where(expert => Matches(selector, expert.Metadata.Labels))), []);
    }

    /// <summary>metav1.LabelSelector semantics: every matchLabels pair and every matchExpressions requirement holds; an
    /// empty selector matches everything.</summary>
    public static bool Matches(V1LabelSelector selector, IDictionary<string, string>? labels)
    {
        labels ??= new Dictionary<string, string>();
        foreach (var (key, value) in selector.MatchLabels ?? new Dictionary<string, string>())
        {
            if (!labels.TryGetValue(key, out var actual) || actual != value)
                return false;
        }

        foreach (var requirement in selector.MatchExpressions ?? [])
        {
            var has = labels.TryGetValue(requirement.Key, out var actual);
            var values = requirement.Values ?? [];
            var holds = requirement.OperatorProperty switch
            {
                "In" => has && values.Contains(actual),
                "NotIn" => !has || !values.Contains(actual),
                "Exists" => has,
                "DoesNotExist" => !has,
                var other => throw new ArgumentException(
                    $"spec.experts.selector: unknown operator '{other}' (In, NotIn, Exists or DoesNotExist)."),
            };
            if (!holds)
                return false;
        }

        return true;
    }

    private static List<Expert> ByName(IEnumerable<Expert> experts) =>
        experts.OrderBy(expert => expert.Metadata.Name, StringComparer.Ordinal).ToList();
}
