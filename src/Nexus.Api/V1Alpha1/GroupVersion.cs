namespace Nexus.Api.V1Alpha1;

/// <summary>The API group and version every kind in this namespace belongs to.</summary>
public static class GroupVersion
{
    public const string Group = "nexus.moe";
    public const string Version = "v1alpha1";
    public const string ApiVersion = Group + "/" + Version;
}
