"""The core's own components, registered through the same hook as any plugin."""

from __future__ import annotations

from dvcore.baselines.components import register as register_baselines
from dvcore.data.digits import DigitsOptions, build_digits
from dvcore.data.frame_folders import FrameFoldersOptions, build_frame_folders
from dvcore.data.image_folder import ImageFolderOptions, build_image_folder
from dvcore.data.moving_shapes import MovingShapesOptions, build_moving_shapes
from dvcore.data.photo_motion import PhotoMotionOptions, build_photo_motion
from dvcore.data.video_files import VideoFilesOptions, build_video_files
from dvcore.data.vimeo import VimeoSeptupletOptions, build_vimeo_septuplet
from dvcore.diffusion.components import register as register_diffusion
from dvcore.hookspecs import hookimpl
from dvcore.registry import NoOptions, Registrar
from dvcore.tasks.generate import GenerateOptions, build_generate
from dvcore.tasks.interpolate import InterpolateOptions, InterpolateTask
from dvcore.tasks.pixel_loss import PixelLossOptions, build_pixel_loss
from dvcore.track.aim_tracker import AimOptions, build_aim_tracker
from dvcore.track.null import build_null_tracker


@hookimpl
def dvcore_register_components(registrar: Registrar) -> None:
    registrar.add(
        "task",
        "interpolate",
        InterpolateTask,
        InterpolateOptions,
        doc="N frames in, the middle one predicted",
    )
    registrar.add("task", "generate", build_generate, GenerateOptions, doc="unconditional image diffusion")
    registrar.add("dataset", "digits", build_digits, DigitsOptions)
    registrar.add("dataset", "moving_shapes", build_moving_shapes, MovingShapesOptions)
    registrar.add("dataset", "photo_motion", build_photo_motion, PhotoMotionOptions)
    registrar.add("dataset", "vimeo_septuplet", build_vimeo_septuplet, VimeoSeptupletOptions)
    registrar.add("dataset", "frame_folders", build_frame_folders, FrameFoldersOptions)
    registrar.add("dataset", "video_files", build_video_files, VideoFilesOptions)
    registrar.add("dataset", "image_folder", build_image_folder, ImageFolderOptions)
    registrar.add("loss", "pixel", build_pixel_loss, PixelLossOptions)
    registrar.add("tracker", "aim", build_aim_tracker, AimOptions)
    registrar.add("tracker", "none", build_null_tracker, NoOptions)
    register_diffusion(registrar)  # schedules, samplers, the diffusion loss
    register_baselines(registrar)  # copy, blend, flow
