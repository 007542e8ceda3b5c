using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Nexus.ApiServer.Registry;

/// <summary>The list <c>continue</c> token, in the API server's own format: base64 of
/// <c>{"v":"meta.k8s.io/v1","rv":R,"start":"key\u0000"}</c>. R is the revision of the first page's snapshot, so every
/// page reads the same snapshot; R = -1 marks an inconsistent continuation (read at the latest revision).</summary>
internal static class ContinueToken
{
    private const string TokenVersion = "meta.k8s.io/v1";

    public static string Encode(long revision, string lastKey)
    {
        var json = new JsonObject { ["v"] = TokenVersion, ["rv"] = revision, ["start"] = lastKey + "\u0000" }.ToJsonString();
        return Convert.ToBase64String(Encoding.UTF8.GetBytes(json));
    }

    /// <summary>The snapshot revision and the first key to return; <see cref="FormatException"/> for a token this
    /// server did not issue.</summary>
    public static (long Revision, string StartKey) Decode(string token)
    {
        try
        {
            var padded = token.PadRight(token.Length + ((4 - (token.Length % 4)) % 4), '=');
            var json = JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(padded))) as JsonObject;
            if (json?["v"]?.GetValue<string>() != TokenVersion || json["rv"] is null || json["start"] is null)
            {
                throw new FormatException("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
            }

            return (json["rv"]!.GetValue<long>(), json["start"]!.GetValue<string>());
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new FormatException("continue key is not valid: " + e.Message, e);
        }
    }
}
