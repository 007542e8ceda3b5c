using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using k8s.Models;
using Server = Nexus.ApiServer.LocalApiServer;

namespace Nexus.Local;

/// <summary>
/// A pod's container as a local process, for <see cref="LocalJobRunner"/> and <see cref="LocalDeploymentRunner"/>: its
/// image maps to a local binary that replaces the command's first word; every volume mount becomes a local folder (an
/// emptyDir a fresh one, a Secret or ConfigMap its keys as files), and any env value, argument or working directory
/// that starts with a mount path is rewritten to that folder.
/// </summary>
internal sealed class LocalContainers(Server server, IReadOnlyDictionary<string, string> images, IReadOnlyDictionary<string, string> environmentOverrides)
{
    /// <summary>The image map a runner uses: <paramref name="images"/>, or only the default worker image → <paramref name="nexusPath"/>.</summary>
    public static IReadOnlyDictionary<string, string> ImagesOr(IReadOnlyDictionary<string, string>? images, string nexusPath) =>
        images ?? new Dictionary<string, string> { [new Nexus.Operator.Specs.OperatorSettings().WorkerImage] = nexusPath };

    /// <summary>The process a pod's (single) container becomes, with its volumes made as folders under
    /// <paramref name="directory"/>. <see cref="NotRunnableException"/> says why it cannot be run here.</summary>
    public ProcessStartInfo Prepare(string ns, string podName, V1PodSpec? pod, string directory)
    {
        if (pod is null)
        {
            throw new NotRunnableException("it has no pod template.");
        }

        if (pod.Containers is not { Count: 1 } containers)
        {
            throw new NotRunnableException($"it has {pod.Containers?.Count ?? 0} containers; only one is supported.");
        }

        if (pod.InitContainers is { Count: > 0 })
        {
            throw new NotRunnableException("init containers are not supported.");
        }

        var container = containers[0];
        if (!images.TryGetValue(container.Image ?? "", out var binary))
        {
            throw new NotRunnableException($"image '{container.Image}' has no local binary (the images mapped are {string.Join(", ", images.Keys)}).");
        }

        var mounts = MakeVolumes(ns, pod, container, Path.Combine(directory, "volumes"));
        string Local(string value)
        {
            foreach (var (mountPath, local) in mounts)
            {
                if (value == mountPath || value.StartsWith(mountPath + "/", StringComparison.Ordinal))
                {
                    return local + value[mountPath.Length..];
                }
            }

            return value;
        }

        // A working directory that is not on a volume would be in the image's filesystem, which has no local copy.
        var workingDirectory = container.WorkingDir is { Length: > 0 } workingDir && Local(workingDir) is var local && local != workingDir
            ? local
            : Path.Combine(directory, "work");

        Directory.CreateDirectory(workingDirectory);
        var start = new ProcessStartInfo(binary)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The binary stands for the command's first word (or the image's entry point when there is no command).
        foreach (var argument in (container.Command ?? []).Skip(1).Concat(container.Args ?? []))
        {
            start.ArgumentList.Add(Local(argument));
        }

        foreach (var variable in container.Env ?? [])
        {
            if (Value(ns, podName, variable) is { } value)
            {
                start.Environment[variable.Name] = Local(value);
            }
        }

        foreach (var (name, value) in environmentOverrides)
        {
            start.Environment[name] = value;
        }

        return start;
    }

    private string? Value(string ns, string podName, V1EnvVar variable)
    {
        if (variable.ValueFrom is null)
        {
            return variable.Value ?? "";
        }

        if (variable.ValueFrom.SecretKeyRef is { } secretKey)
        {
            return Key(ns, "secrets", secretKey.Name, secretKey.Key, secretKey.Optional == true, $"env {variable.Name}");
        }

        if (variable.ValueFrom.ConfigMapKeyRef is { } configMapKey)
        {
            return Key(ns, "configmaps", configMapKey.Name, configMapKey.Key, configMapKey.Optional == true, $"env {variable.Name}");
        }

        return variable.ValueFrom.FieldRef?.FieldPath switch
        {
            "metadata.namespace" => ns,
            "metadata.name" => podName,
            _ => throw new NotRunnableException($"env {variable.Name}: only secretKeyRef, configMapKeyRef and fieldRef metadata.name/namespace are supported."),
        };
    }

    /// <summary>One key of a Secret or ConfigMap (decoded), null when optional and absent.</summary>
    private string? Key(string ns, string plural, string name, string key, bool optional, string what)
    {
        var data = Data(ns, plural, name, optional, what);
        if (data is null)
        {
            return null;
        }

        return data.TryGetValue(key, out var value)
            ? Encoding.UTF8.GetString(value)
            : optional ? null : throw new NotRunnableException($"{what}: key '{key}' is not in {plural} {ns}/{name}.");
    }

    private Dictionary<string, byte[]>? Data(string ns, string plural, string name, bool optional, string what)
    {
        var obj = server.Get("v1", plural, ns, name);
        if (obj is null)
        {
            return optional ? null : throw new NotRunnableException($"{what}: {plural} {ns}/{name} does not exist.");
        }

        var result = new Dictionary<string, byte[]>();
        foreach (var (key, value) in obj["data"] as JsonObject ?? [])
        {
            var text = value?.GetValue<string>() ?? "";
            result[key] = plural == "secrets" ? Convert.FromBase64String(text) : Encoding.UTF8.GetBytes(text);
        }

        if (plural == "configmaps")
        {
            foreach (var (key, value) in obj["binaryData"] as JsonObject ?? [])
            {
                result[key] = Convert.FromBase64String(value?.GetValue<string>() ?? "");
            }
        }

        return result;
    }

    /// <summary>Each mount path (longest first) → the local folder standing for its volume.</summary>
    private List<(string MountPath, string Local)> MakeVolumes(string ns, V1PodSpec pod, V1Container container, string directory)
    {
        var volumes = (pod.Volumes ?? []).ToDictionary(volume => volume.Name);
        var made = new Dictionary<string, string>();
        var mounts = new List<(string, string)>();
        foreach (var mount in container.VolumeMounts ?? [])
        {
            if (!string.IsNullOrEmpty(mount.SubPath) || !string.IsNullOrEmpty(mount.SubPathExpr))
            {
                throw new NotRunnableException($"volume mount {mount.Name} uses subPath, which is not supported.");
            }

            if (!made.TryGetValue(mount.Name, out var local))
            {
                var volume = volumes.GetValueOrDefault(mount.Name)
                    ?? throw new NotRunnableException($"volume mount {mount.Name} names no volume of the pod.");
                local = Path.Combine(directory, mount.Name);
                Directory.CreateDirectory(local);
                if (volume.Secret is { } secret)
                {
                    WriteKeys(local, Data(ns, "secrets", secret.SecretName, secret.Optional == true, $"volume {volume.Name}"),
                        secret.Items, secret.DefaultMode, $"secrets {ns}/{secret.SecretName}");
                }
                else if (volume.ConfigMap is { } configMap)
                {
                    WriteKeys(local, Data(ns, "configmaps", configMap.Name, configMap.Optional == true, $"volume {volume.Name}"),
                        configMap.Items, configMap.DefaultMode, $"configmaps {ns}/{configMap.Name}");
                }
                else if (volume.EmptyDir is null)
                {
                    throw new NotRunnableException($"volume {volume.Name} is neither an emptyDir, a Secret nor a ConfigMap.");
                }

                made[mount.Name] = local;
            }

            mounts.Add((mount.MountPath.TrimEnd('/'), local));
        }

        return [.. mounts.OrderByDescending(mount => mount.Item1.Length)];
    }

    private static void WriteKeys(string folder, Dictionary<string, byte[]>? data, IList<V1KeyToPath>? items, int? mode, string what)
    {
        if (data is null)
        {
            return;
        }

        var files = items is { Count: > 0 }
            ? items.Select(item => (item.Key, item.Path, item.Mode ?? mode))
            : data.Keys.Select(key => (Key: key, Path: key, Mode: mode));
        foreach (var (key, relative, fileMode) in files)
        {
            var bytes = data.GetValueOrDefault(key) ?? throw new NotRunnableException($"key '{key}' is not in {what}.");
            var path = Path.Combine(folder, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
            if (fileMode is { } unixMode && !OperatingSystem.IsWindows())
            {
                // The pod's fsGroup would own the file; here the local user does, so keep the owner's read bit.
                File.SetUnixFileMode(path, (UnixFileMode)(unixMode & 0b111_111_111) | UnixFileMode.UserRead);
            }
        }
    }
}

/// <summary>Why a pod cannot be run here (no container, an unknown image, a missing Secret key).</summary>
internal sealed class NotRunnableException(string message) : Exception(message);
