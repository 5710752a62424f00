// Tests for cuda/errors.hpp: how CUDA runtime, cuBLAS and NCCL status codes map to the project's
// exceptions and what the messages say, without a device.
#include <gtest/gtest.h>

#include "clustersim/executor/cuda/errors.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::executor::cuda {
namespace {

TEST(DeviceErrors, Classification) {
  EXPECT_EQ(classify_device_error(DeviceLibrary::cuda, 2), DeviceErrorClass::out_of_memory);
  EXPECT_EQ(classify_device_error(DeviceLibrary::cuda, 100), DeviceErrorClass::no_device);
  EXPECT_EQ(classify_device_error(DeviceLibrary::cuda, 35), DeviceErrorClass::no_device);
  EXPECT_EQ(classify_device_error(DeviceLibrary::cuda, 209), DeviceErrorClass::unsupported);
  EXPECT_EQ(classify_device_error(DeviceLibrary::cuda, 1), DeviceErrorClass::bad_call);
  EXPECT_EQ(classify_device_error(DeviceLibrary::cuda, 700), DeviceErrorClass::device_fault);
  EXPECT_EQ(classify_device_error(DeviceLibrary::cublas, 3), DeviceErrorClass::out_of_memory);
  EXPECT_EQ(classify_device_error(DeviceLibrary::cublas, 15), DeviceErrorClass::unsupported);
  EXPECT_EQ(classify_device_error(DeviceLibrary::cublas, 7), DeviceErrorClass::bad_call);
  EXPECT_EQ(classify_device_error(DeviceLibrary::nccl, 4), DeviceErrorClass::bad_call);
  EXPECT_EQ(classify_device_error(DeviceLibrary::nccl, 6), DeviceErrorClass::device_fault);
}

TEST(DeviceErrors, ExceptionTypes) {
  EXPECT_THROW(throw_device_error(DeviceLibrary::cuda, 2, "cudaErrorMemoryAllocation", "out of memory", "cudaMalloc(&p, n)",
                                  "a.cpp", 3),
               CheckFailed);
  EXPECT_THROW(throw_device_error(DeviceLibrary::cuda, 1, "cudaErrorInvalidValue", "invalid argument", "f()", "a.cpp", 3),
               InternalError);
  try {
    throw_device_error(DeviceLibrary::cuda, 700, "cudaErrorIllegalAddress", "an illegal memory access", "k<<<>>>",
                       "k.cu", 9);
    FAIL() << "no exception";
  } catch (const CheckFailed&) {
    FAIL() << "a device fault is not a failed check";
  } catch (const InternalError&) {
    FAIL() << "a device fault is not a clustersim bug";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("error state"), std::string::npos) << e.what();
  }
}

TEST(DeviceErrors, MessageNamesTheCallAndWhere) {
  const std::string m = device_error_message(DeviceLibrary::nccl, 2, "ncclSystemError", "unhandled system error",
                                             "ncclAllReduce(...)", "nccl_comm.cpp", 77, "rank 3, op 12 (dp.allreduce)");
  EXPECT_NE(m.find("NCCL error 2 ncclSystemError (unhandled system error)"), std::string::npos) << m;
  EXPECT_NE(m.find("ncclAllReduce(...) at nccl_comm.cpp:77"), std::string::npos) << m;
  EXPECT_NE(m.find(": rank 3, op 12 (dp.allreduce)"), std::string::npos) << m;
  const std::string nodev =
      device_error_message(DeviceLibrary::cuda, 100, "cudaErrorNoDevice", "no CUDA-capable device", "x", "f", 1);
  EXPECT_NE(nodev.find("CUDA_VISIBLE_DEVICES"), std::string::npos) << nodev;
}

TEST(DeviceErrors, OutOfMemoryMessageNamesOpTensorAndBytes) {
  const std::string m = out_of_memory_message("rank 2, program 0 op 41 (layer7.mlp.fc1)", std::int64_t{3} << 30,
                                              "layer7.mlp.h", "activation", std::int64_t{70} << 30, 1 << 20,
                                              std::int64_t{1} << 30, std::int64_t{80} << 30);
  EXPECT_NE(m.find("rank 2, program 0 op 41 (layer7.mlp.fc1)"), std::string::npos) << m;
  EXPECT_NE(m.find("3221225472 bytes (3.00 GiB)"), std::string::npos) << m;
  EXPECT_NE(m.find("tensor layer7.mlp.h (activation)"), std::string::npos) << m;
  EXPECT_NE(m.find("1.00 GiB) free of"), std::string::npos) << m;
}

}  // namespace
}  // namespace clustersim::executor::cuda
