namespace Nexus.ApiServer.Tests.Support;

/// <summary>A small CRD in the project's group for the custom-resource tests (the real generated CRDs live in crds/).</summary>
internal static class ExpertCrd
{
    public const string Group = "nexus.moe";
    public const string Version = "v1alpha1";
    public const string Plural = "experts";
    public const string ApiVersion = Group + "/" + Version;

    public const string Yaml = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: experts.nexus.moe
        spec:
          group: nexus.moe
          scope: Namespaced
          names:
            kind: Expert
            listKind: ExpertList
            plural: experts
            singular: expert
            shortNames: [ex]
            categories: [nexus]
          versions:
            - name: v1alpha1
              served: true
              storage: true
              subresources:
                status: {}
              schema:
                openAPIV3Schema:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
        """;

    /// <summary>The same CRD without the status subresource.</summary>
    public static string WithoutStatusSubresource => Yaml.Replace("      subresources:\n        status: {}\n", string.Empty, StringComparison.Ordinal);

    public static Dictionary<string, object> Expert(string name, string domain = "code", Dictionary<string, object>? status = null, string? resourceVersion = null)
    {
        var metadata = new Dictionary<string, object> { ["name"] = name };
        if (resourceVersion is not null)
        {
            metadata["resourceVersion"] = resourceVersion;
        }

        var expert = new Dictionary<string, object>
        {
            ["apiVersion"] = ApiVersion,
            ["kind"] = "Expert",
            ["metadata"] = metadata,
            ["spec"] = new Dictionary<string, object> { ["domain"] = domain },
        };
        if (status is not null)
        {
            expert["status"] = status;
        }

        return expert;
    }
}
