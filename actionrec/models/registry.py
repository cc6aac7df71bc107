"""Model registry and pinned run-time data: every file's URL, size and hash.

The facts come from the Open Model Zoo ``model.yml`` files (models, SHA-384) and from pinned
commits on GitHub (labels, sample clips, SHA-256). Nothing here touches the network; see
:mod:`actionrec.download` for the verified fetch.

Example:
    >>> spec = get_model("action-recognition-0001")
    >>> [f.name for f in spec.files("FP16")][:1]
    ['action-recognition-0001-encoder/FP16/action-recognition-0001-encoder.xml']
"""

from __future__ import annotations

from dataclasses import dataclass

from ..download import RemoteFile
from ..errors import ModelNotFoundError

PRECISIONS = ("FP32", "FP16", "FP16-INT8")
PARTS = ("encoder", "decoder")


@dataclass(frozen=True)
class ModelSpec:
    """An encoder/decoder model family: its files per precision and its labels."""

    name: str
    labels: RemoteFile
    num_classes: int
    model_files: tuple[RemoteFile, ...]

    @property
    def precisions(self) -> tuple[str, ...]:
        """Precisions with both parts available, in registry order."""
        return tuple(p for p in PRECISIONS if len(self.files(p)) == 4)

    def files(self, precision: str) -> tuple[RemoteFile, ...]:
        """The four files (encoder xml/bin, decoder xml/bin) of one precision."""
        if precision not in PRECISIONS:
            raise ModelNotFoundError(f"precision {precision!r} is not known; valid: {', '.join(PRECISIONS)}")
        return tuple(f for f in self.model_files if f.name.split("/")[1] == precision)

    def xml_name(self, part: str, precision: str) -> str:
        """Relative path of a part's ``.xml`` in the OMZ layout."""
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}, got {part!r}")
        return f"{self.name}-{part}/{precision}/{self.name}-{part}.xml"


_OMZ = "https://storage.openvinotoolkit.org/repositories/open_model_zoo"
_RAW = "https://raw.githubusercontent.com"
_OMZ_COMMIT = "7ef5b91f75115a5eec5a67921453d7faaff8f78b"


def _model_files(model: str, rows: tuple[tuple[str, str, str, int, str, int, str], ...]) -> tuple[RemoteFile, ...]:
    files = []
    for part, precision, release, xml_size, xml_sha, bin_size, bin_sha in rows:
        for ext, size, sha in (("xml", xml_size, xml_sha), ("bin", bin_size, bin_sha)):
            name = f"{model}-{part}/{precision}/{model}-{part}.{ext}"
            url = f"{_OMZ}/{release}/models_bin/1/{model}/{name}"
            files.append(RemoteFile(name, url, size, sha, "sha384"))
    return tuple(files)


# (part, precision, OMZ release, xml size, xml sha384, bin size, bin sha384) from model.yml
_AR1 = "action-recognition-0001"
_AR1_ROWS = (
    (
        "encoder",
        "FP32",
        "2023.0",
        102122,
        "40bd944900fdab423965720424569fd989bbe05374469fa791e91ba3853bffa30c551e4762ed12da3a5d05d3bbbf32dd",
        85104652,
        "7b89b971a5e3e6d5f14517eeed9b91d377415597cc036099d01d3f330cc28c5cea59ba9839f01de1c81270098d2b334f",
    ),
    (
        "encoder",
        "FP16",
        "2023.0",
        143657,
        "db66d8d37aa48b197bc30b7e3f6f1cba0b8e9697038ffb54757eaa99f2843702eae0c8b5537ea5d3e2bb5ff02ff0eb3b",
        42552326,
        "69feda3a3e9d3c2cac288d5d34a4b86243be087204fb453508e98f68d4b73c2d3ab6d8ed34c3dd7fdc6ca618496ad4f8",
    ),
    (
        "encoder",
        "FP16-INT8",
        "2023.0",
        265949,
        "530883d1b9d8e25fd4d55fb2f1b37841a7c2561a58c57401503d852e11f17c306bdd874eed4754e66123d4b88307b1c4",
        21319022,
        "db12d56ddb783ca2dd2020a597eba6c3c9a1501334fc60cb7d46211f45d3f35dab1bb5a4226447e8562fd0824bb74c2d",
    ),
    (
        "decoder",
        "FP32",
        "2023.0",
        172278,
        "92e2f481146ed2d5df2d4968357bd8cb715e28e9b70b018b4264df9c895543a0ef34dacb2f353e4f0938b638f1edd0ef",
        30238492,
        "62070f77ac8f9ec2e8b807fec4d22546e40253ab9d2f428844ac226753887ad089e4a2501e65486566e87492f7888f53",
    ),
    (
        "decoder",
        "FP16",
        "2023.0",
        190650,
        "a66dcdb8efa8ab5ab0231cfe92fd5c39fc8849cc3abdd495f889bdae738b2f3d504becbc64f06434909a6eb0cb7b234e",
        15119354,
        "5ab91a287b80af26ca34be6014e41f74441f842206760d1372ede295e350fc27a32b059304a4fe06b288ab7c35e66b37",
    ),
    (
        "decoder",
        "FP16-INT8",
        "2023.0",
        276509,
        "b03ba339cbbec1c7b44adfa6ab1092208f6525a8a620eff32bb96f5ecf5d27f7a9b4aae0e62404241b769b425e3fe438",
        7601377,
        "0642f7c6de528c7c9c1de47c29cf55bdc5566f671cd1aa179dcd8735cfeea8802d87001fbfd783f37913b4d9b6391d06",
    ),
)
_DRV = "driver-action-recognition-adas-0002"
_DRV_ROWS = (
    (
        "encoder",
        "FP32",
        "2023.0",
        133347,
        "dac32f5f8c904964224387756f78552514ad7542edb314f28a4cf3fe800104f56e756f0de5fd16eb7efe496e9db79d31",
        11450764,
        "ff339d731695263d72ec58442c9b2a4d5970120461428a7788944a0793e47d934c166047cb13cd3b414f48c2fbb983a3",
    ),
    (
        "encoder",
        "FP16",
        "2023.0",
        194660,
        "9bb367ed7db6baf17e894588e7023904fd4f23329b453d7a46c59abfa9cedac804123b8709fb51dd7526c845661a0b74",
        5725382,
        "b15beee00b8ff135f4f1258a2cb6a678e547463dde5b0bd4419f4362e0ce17009a39243b810efecb8d1c8bafdf620dcd",
    ),
    (
        "encoder",
        "FP16-INT8",
        "2022.3",
        409409,
        "5130ca47d415cfe79f3841aebab809ec33702ec08055ef03dab0877c4910d2459448db992622a8ae98a69fc4513f0adb",
        2989114,
        "7f4148429851f944f656139220b292c24b14637813b78a3bd2702f531db39ab62139b251b5908e1221424f365bd1c82f",
    ),
    (
        "decoder",
        "FP32",
        "2023.0",
        216384,
        "9a64e6b33a2a9d0bdc5755feca31095ed2683dc0df830e46f96a2d421a14607e69589d3197fc31b144fc2c5ef2b4d2e3",
        29436128,
        "510f239486d80bca3b6c5810423a88d6e41c5d8008461bbdb4cada2857b27e75884a28f499f8e9f5c49c4d538c4305d2",
    ),
    (
        "decoder",
        "FP16",
        "2023.0",
        234762,
        "6a6bb75e5a9b853034d1af63e9ec22c28601a568e6ca1534355dcf0d121658b88a58727901f0595fd26d0c8774446ad3",
        14718156,
        "8c38df5ad90e0d3254e9d65ecb7e29e592b46303efc803de62956abf8dbf9e3ebad3373daa39a34c47d5c974837799e0",
    ),
    (
        "decoder",
        "FP16-INT8",
        "2022.3",
        321637,
        "e80ee48d2a403dbe37c8e37278af4cc039072db79504537dce76f9fafaf5576bc5d80bb2f0178c9c0cfe38bc26ce8e03",
        7398823,
        "aa537bf22258a4b91661bf52a98a759eb6a3e6c7939484b53732dfa809730c85884078c306a0ba83cebc09b1ca803c81",
    ),
)

KINETICS400_LABELS = RemoteFile(
    "labels/kinetics400-id2label.json",
    f"{_RAW}/openvinotoolkit/open_model_zoo/{_OMZ_COMMIT}/models/intel/{_AR1}/kinetics400-id2label.json",
    None,  # size not pinned upstream; the SHA-256 fixes the bytes
    "49a68868ec6bc11106f39c9875b12dded7f9dcefddc075eac08324c4ac14b0e6",
    "sha256",
)
DRIVER_LABELS = RemoteFile(
    "labels/driver_actions.txt",
    f"{_RAW}/openvinotoolkit/open_model_zoo/{_OMZ_COMMIT}/demos/action_recognition_demo/python/driver_actions.txt",
    None,
    "50b64ba4d3ffd731b6344423c70be22d1acc84793fed5f755af974a0cbb25b18",
    "sha256",
)

SAMPLE_CLIPS: dict[str, RemoteFile] = {
    "arm_wrestling": RemoteFile(
        "samples/arm_wrestling.mp4",
        f"{_RAW}/open-mmlab/mmaction2/4d6c93474730cad2f25e51109adcf96824efc7a3/demo/demo.mp4",
        635539,
        "071e60535eaf0aed475ddac06269ee0cdfc4740158f22d9ccd2c3b93b42aa344",
        "sha256",
    ),
    "flipping_pancake": RemoteFile(
        "samples/flipping_pancake.mkv",
        f"{_RAW}/dmlc/decord/d2e56190286ae394032a8141885f76d5372bd44b/examples/flipping_a_pancake.mkv",
        436346,
        "56279fa0f498d4fe45b7419cdd9d245d4118ab16ec720ec638fe3a1dba146d3a",
        "sha256",
    ),
}
DEFAULT_SAMPLE = "arm_wrestling"

MODELS: dict[str, ModelSpec] = {
    _AR1: ModelSpec(_AR1, KINETICS400_LABELS, 400, _model_files(_AR1, _AR1_ROWS)),
    _DRV: ModelSpec(_DRV, DRIVER_LABELS, 9, _model_files(_DRV, _DRV_ROWS)),
}


def get_model(name: str) -> ModelSpec:
    """Return the registry entry of a model family.

    Raises:
        ModelNotFoundError: ``name`` is not in the registry (the message lists valid names).
    """
    try:
        return MODELS[name]
    except KeyError:
        raise ModelNotFoundError(
            f"model {name!r} is not in the registry; valid: {', '.join(MODELS)}. "
            "To run your own IRs, pass --model-dir DIR (or set AR_MODEL_DIR) with the OMZ layout "
            "DIR/<model>-encoder/<PRECISION>/<model>-encoder.xml"
        ) from None


def get_sample(name: str = DEFAULT_SAMPLE) -> RemoteFile:
    """Return the pinned sample clip ``name`` (see :data:`SAMPLE_CLIPS`)."""
    try:
        return SAMPLE_CLIPS[name]
    except KeyError:
        raise ValueError(f"sample {name!r} is unknown; valid: {', '.join(SAMPLE_CLIPS)}") from None
