using System.Reflection;
using k8s.Models;

namespace Nexus.Operator.Client;

/// <summary>Where a kind lives in the API: group, version, plural resource name and kind, read from the
/// <see cref="KubernetesEntityAttribute"/> that KubernetesClient's models (and ours) carry.</summary>
public sealed record ResourceType(string Group, string Version, string Plural, string Kind)
{
    /// <summary>"group/version", or just "version" for the core group.</summary>
    public string ApiVersion => string.IsNullOrEmpty(Group) ? Version : $"{Group}/{Version}";

    public static ResourceType Of<T>() => Of(typeof(T));

    public static ResourceType Of(Type type)
    {
        var entity = type.GetCustomAttribute<KubernetesEntityAttribute>()
            ?? throw new ArgumentException($"{type.Name} has no [KubernetesEntity] attribute naming its group, version and plural.");
        if (string.IsNullOrEmpty(entity.Kind) || string.IsNullOrEmpty(entity.ApiVersion) || string.IsNullOrEmpty(entity.PluralName))
        {
            throw new ArgumentException($"{type.Name}'s [KubernetesEntity] must name Kind, ApiVersion and PluralName.");
        }

        return new ResourceType(entity.Group ?? "", entity.ApiVersion, entity.PluralName, entity.Kind);
    }
}
