// OpenCV DNN helpers shared by the embedder and the importers. Internal to src/models.
#pragma once
#include <filesystem>
#include <string>
#include <vector>
#include <opencv2/dnn.hpp>

namespace irbis::dnn_util {

// readNetFromONNX with backend OpenCV / target CPU; cv::Exception -> ModelError naming the file.
cv::dnn::Net load_net(const std::filesystem::path& onnx);
// The DNN layer that produces an ONNX tensor (graph outputs keep their names; OpenCV 4.6 names
// other nodes "onnx_node!<node name>"). Throws ModelError if there is none.
std::string layer_for_tensor(cv::dnn::Net& net, const std::string& tensor, const std::string& where);
// Global average over every axis after the second: [N, C, ...] -> N x C (CV_32F); [N, C] as is.
cv::Mat pool_rows(const cv::Mat& out);

}  // namespace irbis::dnn_util
