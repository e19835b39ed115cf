"""The package's domain exceptions: every error a user can act on derives from BedrockCustomizationError."""

from __future__ import annotations

from collections.abc import Sequence


class BedrockCustomizationError(Exception):
    """Base class for errors in configuration, data or catalog look-ups that a user can fix."""


class UnknownModelError(BedrockCustomizationError):
    """A model id that is not a customizable base model in the catalog."""

    def __init__(self, model_id: str, known: Sequence[str], suggestion: str | None = None) -> None:
        self.model_id = model_id
        self.known = tuple(known)
        self.suggestion = suggestion
        hint = f" Did you mean {suggestion!r}?" if suggestion else ""
        super().__init__(
            f"Unknown base model {model_id!r}.{hint} Customizable base models: {', '.join(self.known)}"
        )

    def __reduce__(self):
        return type(self), (self.model_id, self.known, self.suggestion)


class WithdrawnModelError(UnknownModelError):
    """A base model AWS no longer offers for customization; the message cites the page and a replacement."""

    def __init__(
        self, model_id: str, message: str, replacements: Sequence[str], sources: Sequence[str] = ()
    ) -> None:
        self.model_id = model_id
        self.known = ()
        self.replacements = tuple(replacements)
        self.suggestion = self.replacements[0] if self.replacements else None
        self.sources = tuple(sources)
        BedrockCustomizationError.__init__(self, message)

    def __reduce__(self):
        return type(self), (self.model_id, str(self), self.replacements, self.sources)


class UnsupportedCustomizationError(BedrockCustomizationError):
    """A customization type the base model does not offer (or that Bedrock does not have)."""

    def __init__(
        self, message: str, model_id: str | None, customization_type: str, supported: Sequence[str]
    ) -> None:
        self.model_id = model_id
        self.customization_type = customization_type
        self.supported = tuple(supported)
        super().__init__(message)

    def __reduce__(self):
        return type(self), (str(self), self.model_id, self.customization_type, self.supported)


class HyperparameterError(BedrockCustomizationError):
    """One or more invalid hyperparameters; ``problems`` lists each one as a sentence."""

    def __init__(self, model_id: str, problems: Sequence[str]) -> None:
        self.model_id = model_id
        self.problems = list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            lines = "\n".join(f"  - {problem}" for problem in self.problems)
            message = f"{len(self.problems)} hyperparameter problems for {model_id}:\n{lines}"
        super().__init__(message)

    def __reduce__(self):
        return type(self), (self.model_id, self.problems)


class DatasetError(BedrockCustomizationError):
    """Base class for dataset preparation errors."""


class DatasetConfigError(DatasetError):
    """The preparation request itself is wrong (input not found, unknown format, conflicting options)."""


class InvalidDatasetError(DatasetError):
    """The data failed validation; ``report`` (a ``PrepareReport``) lists every reason with line numbers."""

    def __init__(self, message: str, report: object = None) -> None:
        self.report = report
        super().__init__(message)

    def __reduce__(self):
        return type(self), (str(self), self.report)


class S3UriError(BedrockCustomizationError, ValueError):
    """A value that should be an ``s3://bucket/key`` URI is not one (the message names the value)."""


class LandingZoneError(BedrockCustomizationError, ValueError):
    """The landing zone (the Airflow Variable ``bedrock_customization``) is missing or has missing or invalid
    keys; ``problems`` lists each one as a sentence, and the message says how to set the Variable."""

    def __init__(self, message: str, variable: str, problems: Sequence[str]) -> None:
        self.variable = variable
        self.problems = list(problems)
        super().__init__(message)

    def __reduce__(self):
        return type(self), (str(self), self.variable, self.problems)


class ResourceFailedError(BedrockCustomizationError):
    """A Bedrock resource (provisioned throughput, custom model deployment) ended in status Failed."""


class ResourceInUseError(BedrockCustomizationError):
    """A resource cannot be deleted because another one still uses it (e.g. a model served by a throughput)."""


class RegistryConflictError(BedrockCustomizationError):
    """The model registry object changed between read and write (another promotion ran concurrently)."""


class ChampionChangedError(BedrockCustomizationError):
    """Another run promoted a model after this run chose its baseline: its candidate was never compared with
    the champion that serves now, so it is not promoted (a retry cannot change that)."""


class PromotionRolledBackError(BedrockCustomizationError):
    """An in-place promotion failed between recording its intent and committing it, and was rolled back (or
    could not be, in which case the message says who repairs it). Nothing was promoted; a retry may succeed."""
