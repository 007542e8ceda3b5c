using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Nexus.ApiServer.Storage;

namespace Nexus.ApiServer.Registry;

/// <summary>The checks the API server makes on every object's metadata: name format, label syntax, owner references.</summary>
internal static partial class ObjectMetaValidation
{
    private const string SubdomainMessage =
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

    private const string LabelMessage =
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

    private const string QualifiedNameMessage =
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

    /// <summary>Namespaces and services are named by DNS labels; everything else by DNS subdomains.</summary>
    public static IEnumerable<FieldViolation> Validate(JsonObject obj, bool nameIsDnsLabel)
    {
        var metadata = ObjectJson.Metadata(obj);
        var name = ObjectJson.StringOf(metadata["name"]) ?? string.Empty;
        if (nameIsDnsLabel ? name.Length > 63 || !DnsLabel().IsMatch(name) : name.Length > 253 || !DnsSubdomain().IsMatch(name))
        {
            yield return FieldViolation.Invalid("metadata.name", $"\"{name}\"", nameIsDnsLabel ? LabelMessage : SubdomainMessage);
        }

        foreach (var (key, value) in ObjectJson.StringMap(metadata["labels"]))
        {
            var slash = key.IndexOf('/', StringComparison.Ordinal);
            var keyName = slash >= 0 ? key[(slash + 1)..] : key;
            if (keyName.Length == 0 || keyName.Length > 63 || !QualifiedName().IsMatch(keyName) || (slash >= 0 && !DnsSubdomain().IsMatch(key[..slash])))
            {
                yield return FieldViolation.Invalid("metadata.labels", $"\"{key}\"", QualifiedNameMessage);
            }

            if (value.Length > 63 || (value.Length > 0 && !QualifiedName().IsMatch(value)))
            {
                yield return FieldViolation.Invalid(
                    "metadata.labels",
                    $"\"{value}\"",
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
            }
        }

        var owners = ObjectJson.OwnerReferences(obj);
        foreach (var owner in owners)
        {
            if (owner.ApiVersion.Length == 0)
            {
                yield return FieldViolation.Invalid("metadata.ownerReferences.apiVersion", "\"\"", "version must not be empty");
            }

            if (owner.Kind.Length == 0)
            {
                yield return FieldViolation.Invalid("metadata.ownerReferences.kind", "\"\"", "kind must not be empty");
            }

            if (owner.Name.Length == 0)
            {
                yield return FieldViolation.Invalid("metadata.ownerReferences.name", "\"\"", "name must not be empty");
            }

            if (owner.Uid.Length == 0)
            {
                yield return FieldViolation.Invalid("metadata.ownerReferences.uid", "\"\"", "uid must not be empty");
            }
        }

        if (owners.Count(o => o.Controller) > 1)
        {
            yield return FieldViolation.Invalid(
                "metadata.ownerReferences",
                PodSpecDefaults.Render(metadata["ownerReferences"]),
                "Only one reference can have Controller set to true");
        }
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex DnsSubdomain();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")]
    private static partial Regex QualifiedName();
}
