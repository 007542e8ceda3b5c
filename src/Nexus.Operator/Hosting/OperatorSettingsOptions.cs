using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Nexus.Operator.Specs;

namespace Nexus.Operator.Hosting;

/// <summary>
/// The options of <c>nexus-operator run</c> that set <see cref="OperatorSettings"/>, one per setting. Each value comes
/// from the flag; when the flag is absent, from its environment variable, <c>NEXUS_</c> and the flag's name
/// (<c>--worker-image</c> → <c>NEXUS_WORKER_IMAGE</c>; an empty variable counts as unset); else it is
/// OperatorSettings' default. The only place these flags and variables are read and turned into settings.
/// </summary>
internal sealed class OperatorSettingsOptions
{
    private static readonly OperatorSettings Defaults = new();

    private readonly Func<string, string?> environment;
    private readonly Setting[] settings;

    /// <param name="environment">Reads an environment variable (null when unset); the process's in production, a
    /// dictionary in tests.</param>
    public OperatorSettingsOptions(Func<string, string?> environment)
    {
        this.environment = environment;
        settings =
        [
            Text("--worker-image", "IMAGE", nameof(OperatorSettings.WorkerImage),
                "Image of the step Jobs and serving pods; its entry point is the nexus CLI.",
                Defaults.WorkerImage, (settings, value) => settings with { WorkerImage = value }),
            Text("--worker-image-pull-policy", "POLICY", nameof(OperatorSettings.WorkerImagePullPolicy),
                "imagePullPolicy of the worker image and the vLLM image: Always, IfNotPresent or Never.",
                Defaults.WorkerImagePullPolicy, (settings, value) => settings with { WorkerImagePullPolicy = value }),
            Text("--artifact-root", "s3://BUCKET[/PREFIX]", nameof(OperatorSettings.ArtifactRoot),
                "Where every artifact the operator's steps make is published, and where it reads their manifests.",
                Defaults.ArtifactRoot, (settings, value) => settings with { ArtifactRoot = value }),
            Text("--s3-endpoint", "URL", nameof(OperatorSettings.S3Endpoint),
                "S3 endpoint (http:// or https://) of the step and serving pods, and of the operator's own reads.",
                Defaults.S3Endpoint, (settings, value) => settings with { S3Endpoint = value }),
            Text("--s3-region", "REGION", nameof(OperatorSettings.S3Region),
                "S3 region of the pods and of the operator's own reads.",
                Defaults.S3Region, (settings, value) => settings with { S3Region = value }),
            Text("--s3-credentials-secret", "NAME", nameof(OperatorSettings.S3CredentialsSecretName),
                $"Secret in each resource's namespace with the keys {OperatorSettings.S3AccessKeyKey} and " +
                $"{OperatorSettings.S3SecretKeyKey}, mounted into the pods as files.",
                Defaults.S3CredentialsSecretName, (settings, value) => settings with { S3CredentialsSecretName = value }),
            Text("--default-gpu-resource-name", "NAME", nameof(OperatorSettings.DefaultGpuResourceName),
                "Extended resource requested for GPUs when a resource's gpu.resourceName is empty.",
                Defaults.DefaultGpuResourceName, (settings, value) => settings with { DefaultGpuResourceName = value }),
            Text("--worker-service-account", "NAME", nameof(OperatorSettings.WorkerServiceAccountName),
                "Service account of the step and serving pods (its token is not mounted).",
                Defaults.WorkerServiceAccountName, (settings, value) => settings with { WorkerServiceAccountName = value }),
            Number("--job-backoff-limit", "RETRIES", nameof(OperatorSettings.JobBackoffLimit),
                "Retries of a step's pod (Job backoffLimit; preemption does not count), 0 or more.",
                Defaults.JobBackoffLimit, "retries", (settings, value) => settings with { JobBackoffLimit = value }),
            Number("--job-ttl-seconds-after-finished", "SECONDS", nameof(OperatorSettings.JobTtlSecondsAfterFinished),
                "Seconds a finished step Job, and its pods' logs, is kept before it is deleted; 0 or more.",
                Defaults.JobTtlSecondsAfterFinished, "seconds", (settings, value) => settings with { JobTtlSecondsAfterFinished = value }),
            Text("--scratch-size-limit", "BYTES", nameof(OperatorSettings.ScratchSizeLimit),
                "Size limit of a pod's scratch emptyDir (HOME, temporary files, the artifact cache), in bytes as a " +
                "Kubernetes quantity such as 100Gi.",
                Defaults.ScratchSizeLimit, (settings, value) => settings with { ScratchSizeLimit = value }),
            Text("--vllm-image", "IMAGE", nameof(OperatorSettings.VllmImage),
                "Image of the serving pods of spec.serving.runtime vllm: vLLM's OpenAI server, a pinned release (pulled " +
                "with --worker-image-pull-policy).",
                Defaults.VllmImage, (settings, value) => settings with { VllmImage = value }),
            Text("--vllm-dtype", "DTYPE", nameof(OperatorSettings.VllmDtype),
                "dtype of the Qwen2-MoE export vLLM serves: bf16, f16 (GPUs without bfloat16) or f32 (exact, twice the memory).",
                Defaults.VllmDtype, (settings, value) => settings with { VllmDtype = value }),
            Number("--serving-startup-timeout-seconds", "SECONDS", nameof(OperatorSettings.ServingStartupTimeoutSeconds),
                "Seconds a serving pod may take to download and load its model, 10 or more.",
                Defaults.ServingStartupTimeoutSeconds, "seconds", (settings, value) => settings with { ServingStartupTimeoutSeconds = value }),
        ];

        var defaults = string.Join(",", StepKinds.All.Select(step => $"{step.CommandName()}={Defaults.ActiveDeadlineSecondsOf(step)}"));
        ActiveDeadline = new Option<string[]>("--active-deadline")
        {
            HelpName = "STEP=SECONDS",
            Description =
                "Wall-clock limit of one step's Job in seconds (activeDeadlineSeconds, all retries together). Repeat it, or " +
                $"separate entries with commas; steps not named keep their default. STEP: {string.Join(", ", StepKinds.All.Select(step => step.CommandName()))}. " +
                $"Default: {defaults}. Env: {VariableOf("--active-deadline")}.",
            Arity = ArgumentArity.OneOrMore,
        };
    }

    /// <summary>--active-deadline STEP=SECONDS, repeatable.</summary>
    public Option<string[]> ActiveDeadline { get; }

    /// <summary>Every option, in the order --help lists them.</summary>
    public IEnumerable<Option> All => settings.Select(setting => (Option)setting.Option).Append(ActiveDeadline);

    /// <summary>The environment variable read when <paramref name="flag"/> is absent: <c>--s3-region</c> → <c>NEXUS_S3_REGION</c>.</summary>
    public static string VariableOf(string flag) => "NEXUS_" + flag.TrimStart('-').ToUpperInvariant().Replace('-', '_');

    /// <summary>
    /// The settings that <paramref name="parsed"/> (the command's parse result) and the environment give, and every
    /// problem with them: values that do not parse, then <see cref="OperatorSettings.Problems"/>. Each problem is one
    /// line that starts with where the value came from (the flag, or the variable) and names the other.
    /// </summary>
    public (OperatorSettings Settings, IReadOnlyList<string> Problems) Read(CommandResult parsed)
    {
        var result = new OperatorSettings();
        var problems = new List<string>();
        var fromFlag = new Dictionary<string, bool>();
        foreach (var setting in settings)
        {
            if (ValueOf(parsed, setting.Option) is not { } value)
            {
                continue;
            }

            var (text, flag) = value;

            fromFlag[setting.Property] = flag;
            try
            {
                result = setting.Apply(result, text);
            }
            catch (FormatException invalid)
            {
                problems.Add($"{Source(setting.Option.Name, flag)}: {invalid.Message}");
            }
        }

        var deadlineFlags = parsed.GetValue(ActiveDeadline) ?? [];
        var deadlinesFromFlag = deadlineFlags.Length > 0;
        var deadlineText = deadlinesFromFlag ? deadlineFlags : Variable(ActiveDeadline.Name) is { } variable ? [variable] : [];
        if (deadlineText.Length > 0)
        {
            var deadlines = ParseDeadlines(deadlineText, out var deadlineProblems);
            problems.AddRange(deadlineProblems.Select(problem => $"{Source(ActiveDeadline.Name, deadlinesFromFlag)}: {problem}"));
            result = result with { ActiveDeadlineSeconds = deadlines };
        }

        foreach (var problem in result.Problems())
        {
            problems.Add(Describe(problem, result, fromFlag, deadlinesFromFlag));
        }

        return (result, problems);
    }

    private (string Text, bool FromFlag)? ValueOf(CommandResult parsed, Option<string?> option)
    {
        if (parsed.GetResult(option) is { Implicit: false } && parsed.GetValue(option) is { } flag)
        {
            return (flag, true);
        }

        return Variable(option.Name) is { } variable ? (variable, false) : null;
    }

    private string? Variable(string flag) => environment(VariableOf(flag)) is { Length: > 0 } value ? value : null;

    private static string Source(string flag, bool fromFlag) =>
        fromFlag ? $"{flag} (or {VariableOf(flag)})" : $"{VariableOf(flag)} (or {flag})";

    /// <summary>Names the flag and the variable in one of <see cref="OperatorSettings.Problems"/>, which names the
    /// setting: <c>OperatorSettings.JobBackoffLimit: -1 is negative ...</c> or <c>OperatorSettings.ActiveDeadlineSeconds[Train]: ...</c>.</summary>
    private string Describe(string problem, OperatorSettings result, Dictionary<string, bool> fromFlag, bool deadlinesFromFlag)
    {
        const string prefix = nameof(OperatorSettings) + ".";
        const string deadlines = nameof(OperatorSettings.ActiveDeadlineSeconds) + "[";
        var separator = problem.IndexOf(": ", StringComparison.Ordinal);
        if (!problem.StartsWith(prefix, StringComparison.Ordinal) || separator < 0)
        {
            return problem;
        }

        var name = problem[prefix.Length..separator];
        var message = problem[(separator + 2)..];
        if (name.StartsWith(deadlines, StringComparison.Ordinal) && Enum.TryParse<StepKind>(name[deadlines.Length..^1], out var step))
        {
            var seconds = result.ActiveDeadlineSeconds.TryGetValue(step, out var value) ? value.ToString(CultureInfo.InvariantCulture) : "";
            return $"{Source(ActiveDeadline.Name, deadlinesFromFlag)}: {step.CommandName()}={seconds} {message}";
        }

        return settings.FirstOrDefault(setting => setting.Property == name) is { } named
            ? $"{Source(named.Option.Name, fromFlag.GetValueOrDefault(name, true))}: {message}"
            : problem;
    }

    /// <summary>STEP=SECONDS entries, each value possibly several separated by commas, over the defaults.</summary>
    private static Dictionary<StepKind, long> ParseDeadlines(IEnumerable<string> values, out List<string> problems)
    {
        problems = [];
        var steps = string.Join(", ", StepKinds.All.Select(step => step.CommandName()));
        var deadlines = new Dictionary<StepKind, long>(OperatorSettings.DefaultActiveDeadlineSeconds);
        foreach (var entry in values.SelectMany(value => value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)))
        {
            var parts = entry.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2)
            {
                problems.Add($"'{entry}' is not STEP=SECONDS; write e.g. train=259200.");
                continue;
            }

            var step = StepKinds.All.Cast<StepKind?>()
                .FirstOrDefault(kind => string.Equals(kind!.Value.CommandName(), parts[0], StringComparison.OrdinalIgnoreCase));
            if (step is null)
            {
                problems.Add($"'{parts[0]}' in '{entry}' is not a step; use one of {steps}.");
            }
            else if (!long.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds))
            {
                problems.Add($"'{parts[1]}' in '{entry}' is not a whole number of seconds; write e.g. {parts[0]}=86400.");
            }
            else
            {
                deadlines[step.Value] = seconds;
            }
        }

        return deadlines;
    }

    private static Setting Text(
        string flag, string helpName, string property, string meaning, string defaultValue, Func<OperatorSettings, string, OperatorSettings> apply) =>
        new(Create(flag, helpName, meaning, defaultValue), property, apply);

    private static Setting Number(
        string flag, string helpName, string property, string meaning, int defaultValue, string unit, Func<OperatorSettings, int, OperatorSettings> apply) =>
        new(Create(flag, helpName, meaning, defaultValue.ToString(CultureInfo.InvariantCulture)), property, (settings, text) =>
            int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
                ? apply(settings, value)
                : throw new FormatException($"'{text}' is not a whole number of {unit}; write e.g. {defaultValue}."));

    private static Option<string?> Create(string flag, string helpName, string meaning, string defaultValue) => new(flag)
    {
        HelpName = helpName,
        Description = $"{meaning} Default: {defaultValue}. Env: {VariableOf(flag)}.",
    };

    /// <summary>One option, the <see cref="OperatorSettings"/> property it sets, and how its text sets it (a
    /// <see cref="FormatException"/> when the text is not a value of the property's type).</summary>
    private sealed record Setting(Option<string?> Option, string Property, Func<OperatorSettings, string, OperatorSettings> Apply);
}
